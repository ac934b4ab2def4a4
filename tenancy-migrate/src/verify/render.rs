//! The verify matrix as text: one row per table, one column per attack, then every failed cell
//! with its evidence.

use tenancy_schema::report::{Outcome, Verification};

pub fn render(out: &mut dyn std::io::Write, verification: &Verification) -> std::io::Result<()> {
    let width = verification.tables.iter().map(|t| t.table.len()).max().unwrap_or(5).max(5);
    writeln!(out, "verify as {} (two organizations, rolled back)", verification.role)?;
    for (i, attack) in verification.attacks.iter().enumerate() {
        writeln!(out, "  {:>2}  {attack}", i + 1)?;
    }
    write!(out, "{:width$}", "table")?;
    for i in 0..verification.attacks.len() {
        write!(out, " {:>5}", i + 1)?;
    }
    writeln!(out)?;
    for table in &verification.tables {
        write!(out, "{:width$}", table.table)?;
        if let Some(reason) = &table.skipped {
            writeln!(out, " skipped: {reason}")?;
            continue;
        }
        for cell in &table.cells {
            let mark = match cell.outcome {
                Outcome::Blocked | Outcome::Allowed => "ok",
                Outcome::Leaked => "LEAK",
                Outcome::Error => "ERROR",
                Outcome::Skipped => "-",
            };
            write!(out, " {mark:>5}")?;
        }
        writeln!(out)?;
    }
    for table in &verification.tables {
        for cell in table.cells.iter().filter(|c| c.failed()) {
            writeln!(out, "\n{} {}: expected {:?}, got {:?}", table.table, cell.attack, cell.expected, cell.outcome)?;
            for line in cell.evidence.sql.lines() {
                writeln!(out, "    {line}")?;
            }
            writeln!(out, "    => {}", cell.evidence.result.replace('\n', "\n       "))?;
        }
    }
    let c = verification.counts;
    writeln!(
        out,
        "\n{} blocked, {} allowed, {} leaked, {} errors, {} not applicable; checksum before {} after {}{}",
        c.blocked,
        c.allowed,
        c.leaked,
        c.error,
        c.skipped,
        verification.checksum_before,
        verification.checksum_after,
        if verification.checksum_before == verification.checksum_after { " (no trace)" } else { " (CHANGED)" }
    )
}
