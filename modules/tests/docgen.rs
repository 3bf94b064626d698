//! The module reference generator (`build.rs`): its own tests.

#[allow(dead_code)]
#[path = "../build.rs"]
mod build;
