//! The `mcpauth` program, built inside this package so that the end-to-end
//! tests can find it through `CARGO_BIN_EXE_mcpauth-under-test`.

fn main() -> std::process::ExitCode {
    mcpauth::cli::main()
}
