//! The `convsim` command; everything lives in `convsim-cli`.

fn main() -> std::process::ExitCode {
    convsim_cli::main()
}
