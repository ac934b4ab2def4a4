//! The viewer at the size of a fleet: a report of 20,000 findings with full evidence (made from
//! the demo's `before.json` findings, each copied with its own table and cache key, ~31 MB) and
//! one of ~100 MB, opened in headless Chromium from the built site, against the demo's 60-finding
//! report and the page with no report, in the same run. Chromium's `--dump-dom` returns once the
//! page is idle (virtual time), so its wall time is the work of loading, parsing and the first
//! render. Filtering is timed natively too (`model::filtered`, what the page runs per keystroke).

use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tenancy_schema::report::Report;

pub fn run() -> Result<()> {
    let root = crate::project_root();
    let small = root.join("report-web/fixtures/before.json");
    let base: Report = Report::from_json(&std::fs::read_to_string(&small)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = root.join("target/tenancy/bench-viewer");
    std::fs::create_dir_all(&dir)?;
    let big = write(&dir.join("findings-20000.json"), &grown(&base, 20_000))?;
    let huge = write(&dir.join("findings-65000.json"), &grown(&base, 65_000))?;
    let site = crate::report::build_site(&[small.clone(), big.0.clone(), huge.0.clone()])?;
    let (address, _server) = crate::report::serve_dir(&site, 0)?;
    let profile = root.join("target/tenancy/chromium-bench-profile");
    let url = |query: &str| format!("http://{address}/{query}");

    let open = |query: &str| -> Result<(Duration, String)> {
        let _ = std::fs::remove_dir_all(&profile);
        let begun = Instant::now();
        let dom = crate::browser::dump_dom(&url(query), &profile)?;
        Ok((begun.elapsed(), dom))
    };
    let median = |query: &str| -> Result<(Duration, String)> {
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(open(query)?);
        }
        runs.sort_by_key(|(d, _)| *d);
        Ok(runs.swap_remove(1))
    };
    let (blank, _) = median("")?;
    let (small_t, small_dom) = median("?src=reports/before.json")?;
    let (big_t, big_dom) = median("?src=reports/findings-20000.json")?;
    let (filtered_t, filtered_dom) = median("?src=reports/findings-20000.json&severity=error&q=calls")?;
    let (huge_t, huge_dom) = median("?src=reports/findings-65000.json")?;
    for (name, dom, expect) in [
        ("60", &small_dom, "class=\"finding "),
        ("20,000", &big_dom, "id=\"more\""),
        ("20,000 filtered", &filtered_dom, "class=\"finding "),
        ("~100 MB", &huge_dom, "id=\"more\""),
    ] {
        ensure!(dom.contains(expect), "the {name}-finding page did not render its findings");
    }
    ensure!(big_dom.matches("class=\"finding ").count() == report_web::model::PAGE, "one page rendered");

    let parsed = Report::from_json(&std::fs::read_to_string(&big.0)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let filter = report_web::model::Filter { text: "calls".into(), ..Default::default() };
    let begun = Instant::now();
    let hits = report_web::model::filtered(&parsed, &filter).len();
    let native_filter = begun.elapsed();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("  page without a report (Chromium start, wasm): {:.0} ms", ms(blank));
    println!("  60 findings ({} KB): {:.0} ms", std::fs::metadata(&small)?.len() / 1024, ms(small_t));
    println!(
        "  20,000 findings ({:.1} MB): {:.0} ms; over the page without a report: {:.0} ms; over the 60-finding report: {:.2}x",
        big.1 as f64 / 1_048_576.0,
        ms(big_t),
        ms(big_t.saturating_sub(blank)),
        big_t.as_secs_f64() / small_t.as_secs_f64()
    );
    println!(
        "  20,000 findings opened filtered (severity=error, q=calls): {:.0} ms; filtering natively: {:.1} ms for {hits} hits",
        ms(filtered_t),
        ms(native_filter)
    );
    println!(
        "  65,000 findings ({:.1} MB): {:.0} ms; over the page without a report: {:.0} ms",
        huge.1 as f64 / 1_048_576.0,
        ms(huge_t),
        ms(huge_t.saturating_sub(blank))
    );
    let wasm = site.join("report_web_bg.wasm");
    let gzipped = std::process::Command::new("gzip").args(["-9", "-c"]).arg(&wasm).output();
    match gzipped {
        Ok(out) if out.status.success() => println!(
            "  wasm: {} KB, {} KB gzip (goal <= 400 KB gzip)",
            std::fs::metadata(&wasm)?.len() / 1024,
            out.stdout.len() / 1024
        ),
        _ => println!("  wasm: {} KB (gzip not found to size it compressed)", std::fs::metadata(&wasm)?.len() / 1024),
    }
    Ok(())
}

/// `base`'s findings copied until there are `n`, each on a table of its own name and cache key.
fn grown(base: &Report, n: usize) -> Report {
    let mut report = base.clone();
    report.findings = (0..n)
        .map(|i| {
            let mut f = base.findings[i % base.findings.len()].clone();
            let table = format!("t{:05}_{}", i / base.findings.len(), f.table.as_deref().unwrap_or("db"));
            f.cache_key = format!("{}#{i}", f.cache_key);
            f.table = Some(table);
            f
        })
        .collect();
    report
}

fn write(path: &Path, report: &Report) -> Result<(PathBuf, u64)> {
    let json = serde_json::to_vec(report).context("serializing the grown report")?;
    std::fs::write(path, &json)?;
    Ok((path.to_path_buf(), json.len() as u64))
}
