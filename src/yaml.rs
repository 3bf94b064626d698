//! Spanned YAML (being written).
