//! Errors in a declaration, each pointing at file:line:col with a hint on what to write instead.

use crate::ir::Span;
use std::fmt;

/// One problem in a declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { span, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.span, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a declaration; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} errors in the declaration; nothing was generated", self.0.len())?;
        }
        Ok(())
    }
}

/// Loading a declaration from disk: either the files could not be read, or they are invalid.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "cannot read the declaration at {path}: {source}\n  hint: the declaration lives in tenancy-schema/schema/*.rs, or pass its path"
    )]
    Io { path: String, source: std::io::Error },
    #[error("no declaration files (*.rs) in {path}\n  hint: write one, starting from the example in README.md")]
    Empty { path: String },
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}
