"""Errors raised while encoding or decoding records of the platform's topics."""


class CodecError(ValueError):
    """A record could not be encoded or decoded; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownSchemaError(CodecError):
    def __init__(self, message: str) -> None:
        super().__init__("unknown_schema_id", message)
