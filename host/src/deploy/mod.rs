//! Deployment: the host manifests, where each browser looks for them, registering the host
//! (`install`/`uninstall`), generating the packaged manifests (`manifests`), and the self-check
//! (`doctor`). docs/deployment.md is the guide for IT.

pub mod cli;
pub mod config_check;
pub mod doctor;
pub mod identity;
pub mod install;
pub mod locations;
pub mod manifest;
pub mod registry;
pub mod secure_dir;
pub mod settings;
