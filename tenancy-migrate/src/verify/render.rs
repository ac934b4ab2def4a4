//! The verify matrix as text: one row per table, one column per attack; the objects around the
//! tables; every failed cell with its evidence; the notes (what "0 leaked" does not cover).

use tenancy_schema::report::{Cell, Outcome, Verification};

fn mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Blocked | Outcome::Allowed => "ok",
        Outcome::Leaked => "LEAK",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "-",
        Outcome::Info => "info",
    }
}

fn failed_cell(out: &mut dyn std::io::Write, subject: &str, cell: &Cell) -> std::io::Result<()> {
    writeln!(out, "\n{subject} {}: expected {:?}, got {:?}", cell.attack, cell.expected, cell.outcome)?;
    for line in cell.evidence.sql.lines() {
        writeln!(out, "    {line}")?;
    }
    writeln!(out, "    => {}", cell.evidence.result.replace('\n', "\n       "))
}

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
            write!(out, " {:>5}", mark(cell.outcome))?;
        }
        writeln!(out)?;
    }
    if !verification.objects.is_empty() {
        writeln!(out, "\naround the tables:")?;
        for object in &verification.objects {
            writeln!(out, "  {:>5}  {} {}", mark(object.cell.outcome), object.cell.attack, object.object)?;
        }
    }
    for table in &verification.tables {
        for cell in table.cells.iter().filter(|c| c.failed()) {
            failed_cell(out, &table.table, cell)?;
        }
    }
    for object in verification.objects.iter().filter(|o| o.cell.failed()) {
        failed_cell(out, &object.object, &object.cell)?;
    }

    let c = verification.counts;
    writeln!(
        out,
        "\n{} blocked, {} allowed, {} leaked, {} errors, {} not applicable, {} info (observable by design, not a leak: see each); checksum (catalog, data, sequences) before {} after {}{}",
        c.blocked,
        c.allowed,
        c.leaked,
        c.error,
        c.skipped,
        c.info,
        verification.checksum_before,
        verification.checksum_after,
        if verification.checksum_before == verification.checksum_after { " (no trace)" } else { " (CHANGED)" }
    )?;
    for note in &verification.notes {
        writeln!(out, "note ({}): {}", note.code, note.message)?;
    }
    Ok(())
}
