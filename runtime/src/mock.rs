//! In-memory engine with fault injection (to be written).
