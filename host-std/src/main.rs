//! The `mcpauth` binary: see `mcpauth --help`.

fn main() -> std::process::ExitCode {
    mcpauth::cli::main()
}
