//! Diagnostics: what is wrong with the input, where, and how to fix it.

use std::fmt;
use std::sync::Arc;

/// A place in a fleet-repository file. Line and column count from 1; line 0 means the whole file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The file as shown to the user (for example `fleet/modules/ingress.yaml`).
    pub file: Arc<str>,
    pub line: u64,
    pub column: u64,
}

impl Origin {
    /// A position in `file`, from a YAML parser location.
    pub fn at(file: &Arc<str>, location: serde_saphyr::Location) -> Self {
        Origin {
            file: file.clone(),
            line: location.line(),
            column: location.column(),
        }
    }

    /// Where a value read with its span was written in `file` (the whole file if unknown).
    pub fn of<T>(file: &Arc<str>, spanned: &serde_saphyr::Spanned<T>) -> Self {
        if spanned.referenced.line() == 0 {
            Origin::file(file)
        } else {
            Origin::at(file, spanned.referenced)
        }
    }

    /// The file as a whole, when no finer position is known.
    pub fn file(file: &Arc<str>) -> Self {
        Origin {
            file: file.clone(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// One problem found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: Origin,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(origin: Origin, message: impl Into<String>) -> Self {
        Diagnostic {
            origin,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a suggestion of how to fix the problem.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one pass over the input, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was found, else the diagnostics sorted by place.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.sorted())
        }
    }

    /// The diagnostics sorted by place, without repeats.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| a.origin.cmp(&b.origin));
        self.0.dedup();
        self
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "error: {diagnostic}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}
