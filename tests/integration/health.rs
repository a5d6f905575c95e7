//! Health collection.
