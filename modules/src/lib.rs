//! tend's modules.
//!
//! Each module lives in its own file and has: a doc-commented argument struct
//! (`deny_unknown_fields`, Ansible's names, types, defaults and aliases), a
//! read-only probe, a pure plan returning the change with its diff, and the
//! POSIX sh scripts that apply it. Modules talk only to a [`host::Host`]; they
//! never see playbooks, inventories or SSH.
#![deny(missing_docs)]

pub mod account;
pub mod args;
pub mod date;
pub mod fileops;
pub mod host;
pub mod http;
pub mod module;
pub mod outcome;
pub mod pyregex;
pub mod registry;
pub mod sh;

pub mod apt;
pub mod apt_repository;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod cron;
pub mod fetch;
pub mod file;
pub mod find;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod hostname;
pub mod known_hosts;
pub mod lineinfile;
pub mod package;
pub mod ping;
pub mod replace;
pub mod script;
pub mod service;
pub mod slurp;
pub mod stat;
pub mod sysctl;
pub mod systemd;
pub mod tempfile;
pub mod template;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod wait_for;

pub mod doc;

pub use host::{Exec, ExecOutput, Host, HostError};
pub use module::{
    Context, Converge, ConvergeObserver, FreeForm, Module, ModuleError, Plan, TypedModule,
};
pub use outcome::{Action, Diff, Outcome};
pub use registry::{lookup, names};
