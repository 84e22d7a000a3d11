//! Nothing here: every test component is one file in `examples/`.
