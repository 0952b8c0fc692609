module acgs/bench/openloop

go 1.19
