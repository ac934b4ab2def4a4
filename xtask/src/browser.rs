//! report-web in real headless Chromium: the built site, served on 127.0.0.1, loaded with the
//! fixture reports; each check reads the DOM Chromium rendered (`--dump-dom`) and compares it
//! with what the JSON says. Part of `cargo xtask ci`.

use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;
use tenancy_schema::report::Report;

fn chromium() -> Result<PathBuf> {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(output) = Command::new(candidate).arg("--version").output()
            && output.status.success()
        {
            return Ok(PathBuf::from(candidate));
        }
    }
    bail!("Chromium is not installed; the report-web browser tests need it: apt-get install chromium (.ci/run does)")
}

/// Chromium, headless, with nothing reaching for the network (this machine's is closed).
fn headless(profile: &Path) -> Result<Command> {
    let mut command = Command::new(chromium()?);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // Lets fetch, the wasm compile and Yew's first renders finish before the dump.
        "--virtual-time-budget=15000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    Ok(command)
}

pub(crate) fn dump_dom(url: &str, profile: &Path) -> Result<String> {
    let output = headless(profile)?.arg("--dump-dom").arg(url).output().context("running chromium")?;
    ensure!(output.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn screenshot(url: &str, path: &Path, profile: &Path) -> Result<()> {
    let output = headless(profile)?
        .arg("--window-size=1280,1800")
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .output()
        .context("running chromium")?;
    ensure!(
        output.status.success() && path.exists(),
        "chromium took no screenshot of {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The text after `marker`, between the next `open` and `close`.
fn after<'d>(dom: &'d str, marker: &str, open: &str, close: &str) -> Option<&'d str> {
    let rest = &dom[dom.find(marker)? + marker.len()..];
    let rest = &rest[rest.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

fn load(path: &Path) -> Result<Report> {
    Report::from_json(&std::fs::read_to_string(path)?).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn check() -> Result<()> {
    let root = crate::project_root();
    let fixtures = root.join("report-web/fixtures");
    let files: Vec<PathBuf> = ["before.json", "after.json", "corrupt.json", "foreign.json", "newer.json"]
        .iter()
        .map(|f| fixtures.join(f))
        .collect();
    let site = crate::report::build_site(&files)?;
    let (address, _server) = crate::report::serve_dir(&site, 0)?;
    let base = format!("http://{address}/");
    let profile = root.join("target/tenancy/chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    let (before, after_report) = (load(&files[0])?, load(&files[1])?);

    // The summary numbers are the JSON's.
    let dom = dump_dom(&format!("{base}?src=reports/after.json"), &profile)?;
    let s = &after_report.summary;
    for (field, value) in [
        ("tables_scanned", s.tables_scanned.to_string()),
        ("declared_tables", s.declared_tables.to_string()),
        ("errors", s.errors.to_string()),
        ("warnings", s.warnings.to_string()),
        ("infos", s.infos.to_string()),
        ("rls_coverage", format!("{}/{}", s.rls_coverage.enabled, s.rls_coverage.total)),
        ("compliance_percent", format!("{}%", s.compliance_percent)),
    ] {
        let shown = after(&dom, &format!("data-field=\"{field}\""), "<dd>", "</dd>");
        ensure!(
            shown == Some(value.as_str()),
            "summary {field}: the page shows {shown:?}, the JSON says {value}\n{dom}"
        );
    }
    let verify = after_report.verify.as_ref().context("after.json has a verify section")?;
    ensure!(dom.contains("id=\"verify\""), "the verify matrix is shown");
    let cells = verify.tables.iter().map(|t| t.cells.len()).sum::<usize>() + verify.objects.len();
    ensure!(dom.matches("class=\"cell ").count() == cells, "every verify cell is shown, the objects' too");
    let info = verify.tables.iter().flat_map(|t| &t.cells).chain(verify.objects.iter().map(|o| &o.cell));
    let info = info.filter(|c| c.outcome == tenancy_schema::report::Outcome::Info).count();
    ensure!(dom.matches("class=\"cell info\"").count() == info, "every info cell is shown as info ({info})");
    eprintln!("  summary and verify matrix match after.json");

    // A filter narrows the findings table.
    let rows = |dom: &str| dom.matches("class=\"finding ").count();
    let all = rows(&dump_dom(&format!("{base}?src=reports/before.json"), &profile)?);
    let errors = rows(&dump_dom(&format!("{base}?src=reports/before.json&severity=error"), &profile)?);
    let rls = rows(&dump_dom(&format!("{base}?src=reports/before.json&category=rls&q=calls"), &profile)?);
    let expected_errors =
        before.findings.iter().filter(|f| f.severity == tenancy_schema::report::Severity::Error).count();
    let expected_rls = before
        .findings
        .iter()
        .filter(|f| {
            f.category == "rls" && report_web::model::Filter { text: "calls".into(), ..Default::default() }.matches(f)
        })
        .count();
    ensure!(all == before.findings.len(), "all findings shown: {all} of {}", before.findings.len());
    ensure!(errors == expected_errors && errors < all, "severity=error shows {errors}, expected {expected_errors}");
    ensure!(rls == expected_rls && rls < errors, "category=rls&q=calls shows {rls}, expected {expected_rls}");
    eprintln!("  filters narrow the findings: {all} → {errors} (errors) → {rls} (rls, 'calls')");

    // The diff of the two reports.
    let diff_url = format!("{base}?src=reports/after.json&before=reports/before.json");
    let dom = dump_dom(&diff_url, &profile)?;
    let expected = report_web::model::diff(&before, &after_report);
    for (id, count) in [("diff-resolved", expected.resolved.len()), ("diff-new", expected.new.len())] {
        let shown = after(&dom, &format!("id=\"{id}\""), "data-count=\"", "\"");
        ensure!(shown == Some(count.to_string().as_str()), "{id}: page shows {shown:?}, expected {count}");
    }
    ensure!(!expected.resolved.is_empty(), "the fixtures have resolved findings");
    eprintln!(
        "  diff: {} resolved, {} new, {} unchanged",
        expected.resolved.len(),
        expected.new.len(),
        expected.unchanged.len()
    );

    // One table's page: its findings and its verify row.
    let dom = dump_dom(&format!("{base}?src=reports/after.json&view_table=calls"), &profile)?;
    let row = verify.tables.iter().find(|t| t.table == "calls").context("calls is in the verify matrix")?;
    let page = after(&dom, "id=\"table-view\"", ">", "</section>").context("the table page is shown")?;
    ensure!(page.contains("Table calls"), "the table page names its table");
    ensure!(
        page.matches("<dt>").count() == row.cells.len(),
        "the table page shows its {} verify cells",
        row.cells.len()
    );
    eprintln!("  the per-table page shows calls' {} verify cells", row.cells.len());

    // Bad files: a clear message in the page, no blank screen. The empty, the 50 MB and the
    // 300 MB (sparse) files are made here rather than committed.
    std::fs::write(site.join("reports/empty.json"), "")?;
    std::fs::File::create(site.join("reports/huge.json"))?.set_len(300 * 1024 * 1024)?;
    let mut big = Vec::with_capacity(50 * 1024 * 1024);
    big.extend_from_slice(b"{\"schema_version\": 1, \"padding\": \"");
    big.resize(50 * 1024 * 1024 - 2, b'x');
    big.extend_from_slice(b"\"}");
    std::fs::write(site.join("reports/big.json"), big)?;
    for (file, message) in [
        ("empty.json", "empty.json is empty: it is not a tenancy report."),
        ("big.json", "big.json is JSON but not a tenancy report"),
        ("huge.json", "huge.json is 300.0 MB; the viewer reads reports up to 256 MB."),
        ("corrupt.json", "corrupt.json is not valid JSON"),
        ("foreign.json", "foreign.json is JSON but not a tenancy report"),
        ("newer.json", "newer.json has report schema_version 2, newer than this viewer understands (1)"),
        ("missing.json", "cannot load reports/missing.json: HTTP 404"),
    ] {
        let dom = dump_dom(&format!("{base}?src=reports/{file}"), &profile)?;
        let shown = after(&dom, "id=\"error\"", ">", "</div>");
        ensure!(
            shown.is_some_and(|s| s.contains(message)),
            "{file}: expected an error containing {message:?}, got {shown:?}"
        );
        ensure!(dom.contains("<header"), "{file}: the page still renders its controls");
    }
    eprintln!("  bad files get their message");

    let shots = root.join("target/tenancy/screenshots");
    std::fs::create_dir_all(&shots)?;
    let shot = shots.join("before-after.png");
    screenshot(&diff_url, &shot, &profile)?;
    eprintln!("  screenshot of the before/after page: {}", shot.display());
    Ok(())
}
