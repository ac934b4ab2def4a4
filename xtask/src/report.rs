//! `cargo xtask report`: builds report-web into a static site (no trunk): the wasm32 release
//! build, wasm-bindgen through its library (the same version as the crate, pinned in both
//! Cargo.toml files), an index.html with relative paths only, and `reports/` with the JSON
//! reports. `--serve` serves it on 127.0.0.1.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the site is written.
pub fn site_dir() -> PathBuf {
    crate::project_root().join("target/tenancy/site")
}

/// Where `demo` (and you) put reports for the site to include.
pub fn reports_dir() -> PathBuf {
    crate::project_root().join("target/tenancy/reports")
}

pub fn run(args: &[&str]) -> Result<()> {
    let mut serve = false;
    let mut open = false;
    let mut files = Vec::new();
    for arg in args {
        match *arg {
            "--serve" => serve = true,
            "--open" => open = true,
            flag if flag.starts_with("--") => {
                bail!("unknown option {flag}; usage: cargo xtask report [--serve] [--open] [REPORT.json ...]")
            }
            file => files.push(PathBuf::from(file)),
        }
    }
    if files.is_empty() && reports_dir().is_dir() {
        for entry in std::fs::read_dir(reports_dir())? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    let site = build_site(&files)?;
    println!("wrote {}", site.display());
    if serve || open {
        let (address, _server) = serve_dir(&site, 0)?;
        let url = format!("http://{address}/{}", start_page(&files));
        println!("serving {} at {url} (Ctrl-C to stop)", site.display());
        if open {
            let _ = Command::new("xdg-open").arg(&url).status();
        }
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

/// The page to open: the diff when there are a before and an after report.
pub fn start_page(files: &[PathBuf]) -> String {
    let names: Vec<String> =
        files.iter().filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    if names.iter().any(|n| n == "before.json") && names.iter().any(|n| n == "after.json") {
        "?src=reports/after.json&before=reports/before.json".to_owned()
    } else if let Some(first) = names.first() {
        format!("?src=reports/{first}")
    } else {
        String::new()
    }
}

/// The target report-web is built for.
const WASM: &str = "wasm32-unknown-unknown";

/// Installs the wasm32 target when the toolchain lacks it (a fresh machine: rustup installs a
/// rust-toolchain.toml's targets with a new toolchain, not into one already there), so the
/// README's first command works anywhere rustup does.
pub(crate) fn ensure_wasm_target(root: &std::path::Path) -> Result<()> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).current_dir(root).output()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM).exists() {
        return Ok(());
    }
    eprintln!("the {WASM} target (for the report viewer) is missing: rustup target add {WASM}");
    let added = Command::new("rustup").args(["target", "add", WASM]).current_dir(root).status();
    match added {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => bail!("`rustup target add {WASM}` failed; install the target, then rerun"),
        Err(_) => bail!(
            "report-web needs the {WASM} target and rustup is not here to install it; add the target to your toolchain, then rerun"
        ),
    }
}

/// Builds the site with `reports` copied into `reports/`; returns its directory.
pub fn build_site(reports: &[PathBuf]) -> Result<PathBuf> {
    let root = crate::project_root();
    ensure_wasm_target(&root)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("building report-web for wasm32 (release)...");
    let status = Command::new(cargo)
        .args(["build", "--locked", "--release", "-p", "report-web", "--target", "wasm32-unknown-unknown"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("report-web does not build for {WASM}: see cargo's errors above");
    }
    let wasm = root.join("target/wasm32-unknown-unknown/release/report_web.wasm");
    let site = site_dir();
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    std::fs::create_dir_all(site.join("reports"))?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .generate(&site)
        .context("running wasm-bindgen on report_web.wasm")?;
    let mut listed = Vec::new();
    for report in reports {
        let name = report.file_name().context("a report path names a file")?.to_string_lossy().into_owned();
        std::fs::copy(report, site.join("reports").join(&name))
            .with_context(|| format!("copying {}", report.display()))?;
        listed.push(name);
    }
    listed.sort();
    std::fs::write(site.join("index.html"), index_html(&listed, &start_page(reports)))?;
    Ok(site)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn index_html(reports: &[String], start: &str) -> String {
    let mut links: String =
        reports.iter().map(|name| format!("<li><a href=\"?src=reports/{0}\">{0}</a></li>", escape(name))).collect();
    if start.contains("before=") {
        links.push_str(&format!("<li><a href=\"{}\">before → after</a></li>", escape(start)));
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenancy report</title>
<style>
  body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem; color: #1d1d1f; }}
  header {{ display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; border-bottom: 1px solid #ddd; padding-bottom: .5rem; }}
  h1 {{ font-size: 1.3rem; margin: 0 1rem 0 0; }}
  .loader {{ border: 1px dashed #aaa; padding: .4rem .6rem; border-radius: 6px; }}
  .loader .current {{ color: #666; margin-left: .5rem; }}
  #error {{ background: #fde8e8; border: 1px solid #e0a0a0; padding: .75rem; margin: 1rem 0; border-radius: 6px; }}
  #summary dl {{ display: flex; flex-wrap: wrap; gap: .5rem; }}
  .stat {{ border: 1px solid #ddd; border-radius: 6px; padding: .4rem .8rem; min-width: 7rem; }}
  .stat dt {{ color: #666; font-size: .85rem; }} .stat dd {{ margin: 0; font-size: 1.4rem; font-weight: 600; }}
  .pass {{ color: #116611; }} .fail {{ color: #aa1111; font-weight: 600; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ border-bottom: 1px solid #eee; padding: .3rem .4rem; text-align: left; vertical-align: top; }}
  tr.error td:first-child, li.error {{ color: #aa1111; }} tr.warn td:first-child, li.warn {{ color: #8a5a00; }}
  .matrix td.cell {{ font-size: .8rem; text-align: center; }}
  .matrix th span {{ writing-mode: vertical-rl; transform: rotate(180deg); font-size: .75rem; }}
  td.leaked, dd.leaked, td.error, dd.error {{ background: #fde8e8; color: #aa1111; font-weight: 700; }}
  td.blocked, td.allowed {{ color: #116611; }} td.skipped {{ color: #999; }} .info {{ color: #8a5a00; }}
  .scroll {{ overflow-x: auto; }}
  pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .5rem; font-size: .8rem; }}
  button.link {{ background: none; border: none; color: #0645ad; cursor: pointer; padding: 0; font: inherit; text-decoration: underline; }}
  .filters {{ display: flex; flex-wrap: wrap; gap: 1rem; margin: .5rem 0; }}
  :focus-visible {{ outline: 3px solid #4a90e2; outline-offset: 2px; }}
  #reports {{ color: #555; }}
  @media print {{
    .controls, .loader, #reports, button {{ display: none !important; }}
    details > *:not(summary) {{ display: block; }}
    body {{ max-width: none; }}
  }}
</style>
</head>
<body>
<noscript>This viewer needs JavaScript and WebAssembly.</noscript>
<nav id="reports" class="controls"><ul>{links}</ul></nav>
<script type="module">
  import init from './report_web.js';
  init({{ module_or_path: './report_web_bg.wasm' }}).catch((e) => {{
    document.body.insertAdjacentHTML('beforeend', '<div id="error" role="alert">The viewer could not start: ' + String(e) + '</div>');
  }});
</script>
</body>
</html>
"#
    )
}

/// Serves `dir` on 127.0.0.1 (`port` 0: any free port) from a background thread.
pub fn serve_dir(dir: &Path, port: u16) -> Result<(std::net::SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).context("binding 127.0.0.1")?;
    let address = listener.local_addr()?;
    let dir = dir.to_path_buf();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let _ = respond(stream, &dir);
            });
        }
    });
    Ok((address, handle))
}

fn respond(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut request = String::new();
    BufReader::new(&stream).read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/").trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = dir.join(path);
    let safe = !path.split('/').any(|part| part == ".." || part.is_empty());
    match std::fs::read(&file) {
        Ok(body) if safe && file.is_file() => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                Some("json") => "application/json",
                _ => "application/octet-stream",
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)
        }
        _ => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
    }
}
