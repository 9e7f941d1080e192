fn main() -> std::process::ExitCode {
    ssprctl::run(std::env::args_os())
}
