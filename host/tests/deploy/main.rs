//! Deployment tests (issue 6): the real `cis-renew-host` binary registering itself into a temp
//! root, the committed manifests and docs table matching the code, `doctor` against a good
//! install and each broken one, and the group-policy templates and example policy files.

mod config_check;
mod config_show;
mod doctor;
mod install;
mod manifests;
mod policy;
mod util;
