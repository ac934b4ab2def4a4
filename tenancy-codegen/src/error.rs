//! Why a planner refuses: one error type for both planners, with the subject, what is wrong and
//! what to do.

/// Which planner refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// `codegen`: a declaration change it cannot turn into a safe migration.
    Migration,
    /// `plan`: a live database it cannot convert safely on its own.
    Conversion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub planning: Planning,
    pub subject: String,
    pub message: String,
    pub hint: String,
}

impl PlanError {
    /// A conversion refused for `subject`.
    pub fn conversion(subject: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> PlanError {
        PlanError {
            planning: Planning::Conversion,
            subject: subject.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl std::fmt::Display for PlanError {
    /// `codegen` prints the hint on a line of its own, like declaration diagnostics; the
    /// conversion's refusal is one line, like every tenancy-migrate error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let PlanError { subject, message, hint, .. } = self;
        match self.planning {
            Planning::Migration => write!(f, "cannot plan a migration for {subject}: {message}\n  hint: {hint}"),
            Planning::Conversion => write!(f, "cannot plan the conversion of {subject}: {message}; {hint}"),
        }
    }
}

impl std::error::Error for PlanError {}
