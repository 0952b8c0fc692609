"""Stream processors (faust-streaming): the constitutional gate today; scoring, routing and audit plug in here."""
