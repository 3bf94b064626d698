//! Compiler-style diagnostics: a message, the file:line:col it concerns,
//! and the source line with a caret under the offending text.

use crate::yaml::Span;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use std::fmt;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops compilation.
    Error,
    /// Reported, compilation goes on.
    Warning,
}

/// One problem found in the user's input.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline.
    pub message: String,
    /// Where, if known.
    pub span: Option<Span>,
    /// Text under the caret.
    pub label: Option<String>,
    /// Extra lines (`help: ...`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A new error.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            notes: Vec::new(),
        }
    }

    /// A new warning.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Points at a place.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Labels the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a `help:` note.
    pub fn help(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders like a compiler: headline, `--> file:line:col`, snippet with caret.
    pub fn render(&self, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        // Secrets are masked; a vault-encrypted file's text is never shown.
        let message = crate::report::redact::text(&self.message);
        let secret_source = self
            .span
            .as_ref()
            .filter(|span| crate::vault::decrypted_file(&span.file.path).is_some());
        let message = match secret_source {
            Some(span) => format!(
                "{message}\n --> {} (vault encrypted: the source is not shown)",
                span.location()
            ),
            None => message.into_owned(),
        };
        let label = self
            .label
            .as_deref()
            .map(|l| crate::report::redact::text(l).into_owned());
        let title = level.primary_title(&message);
        let mut groups = Vec::new();
        let group = match self.span.as_ref().filter(|_| secret_source.is_none()) {
            Some(span) => {
                let text = span.file.text.as_str();
                let start = span.offset.min(text.len());
                let mut end = (start + span.len.max(1)).min(text.len());
                // Keep the caret on one line.
                if let Some(nl) = text[start..end].find('\n') {
                    end = start + nl.max(if start == end { 0 } else { 1 });
                }
                while end > start && !text.is_char_boundary(end) {
                    end -= 1;
                }
                let path = span.file.path.display().to_string();
                let mut annotation = AnnotationKind::Primary.span(start..end);
                if let Some(label) = &label {
                    annotation = annotation.label(label.as_str());
                }
                let snippet = Snippet::source(text)
                    .path(path)
                    .fold(true)
                    .annotation(annotation);
                title.element(snippet)
            }
            None => Group::with_title(title),
        };
        groups.push(group);
        let notes: Vec<String> = self
            .notes
            .iter()
            .map(|n| crate::report::redact::text(n).into_owned())
            .collect();
        for note in &notes {
            groups.push(Group::with_title(
                Level::HELP.secondary_title(note.as_str()),
            ));
        }
        renderer.render(&groups)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{}: {}", span.location(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}
