//! No library code: the integration tests in `tests/` run each topic binary.
