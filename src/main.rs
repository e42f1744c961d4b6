use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = outage_sim::cli::Cli::parse();
    outage_sim::progress::init_logging();
    match outage_sim::commands::execute(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(outage_sim::commands::exit_code(&e))
        }
    }
}
