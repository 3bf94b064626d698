//! Fact gathering (being written).
