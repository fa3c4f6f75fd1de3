//! `Site`: where a public function was called from. A leaf of the
//! runtime, for the layers that record call sites (operations, channels,
//! fiber packets).

/// Where a public function was called from (`#[track_caller]`): a spawn,
/// a perform, for messages, dumps and reports.
pub(crate) type Site = &'static std::panic::Location<'static>;
