//! `--start-at-task NAME`: skip a play's tasks until the first whose name
//! matches, as Ansible's play iterator does.
//!
//! The name matches the task's `name` or its shown name (`role : name`),
//! exactly or as a shell glob (`fnmatch`). The search walks the tasks the
//! run would meet: the selected tags' tasks of `pre_tasks`, `tasks` and
//! `post_tasks`, into blocks (`block` then `always`: a `rescue` only runs on
//! a failure) and through imported files and roles, but not into the file of
//! an `include_tasks`/`include_role` (Ansible reads it only when it runs; the
//! include itself can be the start). The first play holding a match starts
//! there (fact gathering still runs), earlier plays run nothing, later plays
//! (and the later `serial` batches of the play) run whole.

use super::{HostState, RunOptions, task};
use crate::compile::{CompiledPlay, CompiledStep, CompiledTask};

/// A task's identity while a run lasts (its address in the compiled plan).
pub(crate) fn key(t: &CompiledTask) -> usize {
    t as *const CompiledTask as usize
}

/// Whether `--start-at-task PATTERN` names this task.
pub fn matches(t: &CompiledTask, pattern: &str) -> bool {
    let shown = t.display_name();
    let name = t.task.name.as_deref().unwrap_or_default();
    name == pattern
        || (!name.is_empty() && tend_modules::find::fnmatch(name, pattern))
        || shown == pattern
        || tend_modules::find::fnmatch(&shown, pattern)
}

/// The task a play starts at, if the play has one matching.
pub(crate) fn find(play: &CompiledPlay, pattern: &str, opts: &RunOptions) -> Option<usize> {
    [&play.pre_tasks, &play.tasks, &play.post_tasks]
        .into_iter()
        .find_map(|steps| walk(steps, play, pattern, opts))
}

fn walk(
    steps: &[CompiledStep],
    play: &CompiledPlay,
    pattern: &str,
    opts: &RunOptions,
) -> Option<usize> {
    let selected = |t: &CompiledTask| task::selected_by_tags(t, &play.play.tags, opts);
    steps.iter().find_map(|step| match step {
        CompiledStep::Task(t) => (selected(t) && matches(t, pattern)).then(|| key(t)),
        CompiledStep::Include(inc) => {
            (selected(&inc.task) && matches(&inc.task, pattern)).then(|| key(&inc.task))
        }
        CompiledStep::Block(b) => {
            walk(&b.block, play, pattern, opts).or_else(|| walk(&b.always, play, pattern, opts))
        }
    })
}

/// Whether the hosts marked `live` skip `t` for `--start-at-task`. At the
/// start task itself, the mark is cleared on every host and it runs.
pub(crate) fn skips(states: &mut [HostState], live: &[bool], t: &CompiledTask) -> bool {
    let Some(start) = states
        .iter()
        .enumerate()
        .find(|(i, _)| live[*i])
        .and_then(|(_, s)| s.start_at)
    else {
        return false;
    };
    if start != key(t) {
        return true;
    }
    for s in states.iter_mut() {
        s.start_at = None;
    }
    false
}
