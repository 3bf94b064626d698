//! The executor: strategies, forks, handlers (being written).

pub mod facts;
