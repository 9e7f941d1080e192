//! ssprctl: read and pre-populate the contact information Entra ID self-service password
//! reset uses. The binary calls [`run`]; everything else is here so it can be tested.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod directory;
pub mod email;
pub mod error;
pub mod exit;
pub mod file;
pub mod http;
pub mod import;
pub mod model;
pub mod output;
pub mod phone;
pub mod plan;
pub mod ps;
pub mod secret;
pub mod settings;
pub mod text;

use std::ffi::OsString;
use std::io::Write;

use error::CliError;
use exit::Exit;

/// Parses `args`, runs the command and returns the process exit code.
pub fn run<I, T>(args: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    let settings = match settings::Settings::resolve(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            return report(&e, settings::is_json(settings::resolve_format(&cli.global)));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = runtime.block_on(commands::run(cli, &settings, &mut out));
    let result = result.and_then(|exit| out.flush().map(|_| exit).map_err(CliError::from));
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            let _ = out.flush();
            report(&e, settings.json_errors())
        }
    }
}

fn report(e: &CliError, json: bool) -> std::process::ExitCode {
    if e.code == error::BROKEN_PIPE {
        return Exit::Success.into();
    }
    e.render_styled(
        &mut std::io::stderr().lock(),
        json,
        settings::stderr_color(),
    );
    e.exit.into()
}
