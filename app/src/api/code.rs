//! The server's Python tools on a source: syntax check, ruff's format, its inputs, and the PEP
//! 723 header.

use std::future::Future;

use super::{call, Failure, Method};
use crate::model::{CheckReport, InlineMetadata, InputsReport, MetadataWrite, Source};

pub fn check(source: &Source) -> impl Future<Output = Result<CheckReport, Failure>> + Send + 'static {
    call(Method::Post, "/api/code/check", Some(source))
}

pub fn format(source: &Source) -> impl Future<Output = Result<Source, Failure>> + Send + 'static {
    call(Method::Post, "/api/code/format", Some(source))
}

/// The inputs the source takes (its run form), read without running it.
pub fn inputs(source: &Source) -> impl Future<Output = Result<InputsReport, Failure>> + Send + 'static {
    call(Method::Post, "/api/code/inputs", Some(source))
}

/// What the source's `# /// script` header declares.
pub fn metadata(source: &Source) -> impl Future<Output = Result<InlineMetadata, Failure>> + Send + 'static {
    call(Method::Post, "/api/code/metadata", Some(source))
}

/// The source with `change`'s requirements written into its header.
pub fn write_metadata(change: &MetadataWrite) -> impl Future<Output = Result<Source, Failure>> + Send + 'static {
    call(Method::Post, "/api/code/metadata/write", Some(change))
}
