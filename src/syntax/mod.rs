//! The byte grammar that several stages share, below all of them: finding
//! special bytes a word at a time ([`byte_search`]), CSV fields
//! ([`csv`]), JSON text ([`json`]), numbers ([`number`]) and objects ([`json_object`], with the
//! flat-object fast path [`flat_object`]). Nothing here knows about
//! chunks, records or the pipeline.

pub(crate) mod byte_search;
pub(crate) mod csv;
pub(crate) mod flat_object;
pub(crate) mod json;
pub(crate) mod json_object;
pub(crate) mod number;
