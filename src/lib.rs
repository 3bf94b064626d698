//! tend: Ansible-syntax playbooks compiled ahead of time into a typed plan,
//! then applied across an inventory by an async executor.
//!
//! The pipeline, one stage per module:
//! [`yaml`] (spanned YAML) → [`playbook`] (raw plays with positions) →
//! [`compile`] (validated, typed plan; every error up front) →
//! [`exec`] (strategies, forks, handlers) over a [`connection`] →
//! [`report`] (human and machine output). [`inventory`] and [`template`]
//! serve every stage; [`cli`] is the thin front end.

pub mod cli;
pub mod compile;
pub mod config;
pub mod connection;
pub mod diagnostic;
pub mod exec;
pub mod inventory;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod template;
pub mod vars;
pub mod vault;
pub mod yaml;
