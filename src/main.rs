fn main() -> std::process::ExitCode {
    kms_operator::cli::main()
}
