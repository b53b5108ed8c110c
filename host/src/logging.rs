//! Logs go to a file, never to stdout (stdout carries frames). Lines name commands, ids,
//! durations and error codes; never message contents, never the PIN.

use crate::config::{Config, LogLevel};
use simplelog::{ConfigBuilder, LevelFilter, WriteLogger};
use std::fs::OpenOptions;
use std::path::Path;

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Off => LevelFilter::Off,
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
    }
}

/// Starts logging to the configured file. A file that cannot be opened means no log: the host
/// must still work for the user.
pub fn init(config: &Config) {
    if config.log_level == LogLevel::Off {
        return;
    }
    if let Some(path) = config.log_path() {
        init_file(&path, level_filter(config.log_level));
    }
}

/// Starts logging to `path` at `level`.
pub fn init_file(path: &Path, level: LevelFilter) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    let log_config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        .add_filter_allow_str("cis_renew_host")
        .build();
    let _ = WriteLogger::init(level, log_config, file);
}
