//! Shared file operations on the target, as sh scripts: reading a file's
//! metadata and content in one probe, and writing content atomically
//! (temp file in the destination directory, attributes set, then rename).
