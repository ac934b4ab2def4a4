//! The Yew app: loading (file picker, drag and drop, `?src=URL`, `?before=URL`, `#r=` share
//! links) and the views (summary, verify matrix, before/after diff, findings with filters and
//! evidence, one table). Every decision is in `model`; this file is glue and markup.

use crate::model::{self, Filter, LoadError};
use tenancy_schema::report::{Finding, Outcome, Report, Severity};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, Event, File, HtmlInputElement, HtmlSelectElement, InputEvent};
use yew::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    /// The report shown (in a diff: the one after).
    Report,
    /// The report compared against (before).
    Before,
}

struct Loaded {
    name: String,
    report: Report,
}

pub enum Msg {
    Loaded {
        slot: Slot,
        name: String,
        result: Box<Result<Report, LoadError>>,
    },
    File {
        slot: Slot,
        file: File,
    },
    Severity(String),
    Category(String),
    Table(String),
    Text(String),
    Select(Option<String>),
    Share,
    /// Render the next page of findings.
    More,
    /// Show or hide one finding's fix and evidence (rendered only when shown).
    Evidence(String),
}

pub struct App {
    report: Option<Loaded>,
    before: Option<Loaded>,
    error: Option<String>,
    loading: usize,
    filter: Filter,
    selected: Option<String>,
    share: Option<Result<String, String>>,
    /// How many findings of the filtered list are rendered.
    limit: usize,
    /// Findings whose evidence is open, by cache key.
    open: std::collections::HashSet<String>,
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

/// Fetches `url` (relative to the page) and reads it as a report. The body is read as bytes and
/// parsed as UTF-8 directly: a 30 MB report never becomes a JavaScript string.
async fn fetch(url: String) -> Result<Report, LoadError> {
    let fail = |reason: String| LoadError::Fetch { url: url.clone(), reason };
    let response = JsFuture::from(window().fetch_with_str(&url)).await.map_err(|e| fail(js_error(&e)))?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| fail("not an HTTP response".into()))?;
    if !response.ok() {
        return Err(fail(format!("HTTP {} {}", response.status(), response.status_text())));
    }
    let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
    // Refused before its body is read when the server says how big it is.
    let length = response.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if let Some(bytes) = length.filter(|b| *b > model::MAX_REPORT_BYTES) {
        return Err(LoadError::TooBig { name, bytes });
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| fail(js_error(&e)))?)
        .await
        .map_err(|e| fail(js_error(&e)))?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    model::parse(&name, &bytes)
}

/// Reads a picked or dropped file, refusing one too big before reading it.
async fn read(file: File) -> Result<Report, LoadError> {
    let name = file.name();
    let size = file.size() as usize;
    if size > model::MAX_REPORT_BYTES {
        return Err(LoadError::TooBig { name, bytes: size });
    }
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| LoadError::NotJson { name: name.clone(), reason: js_error(&e) })?;
    model::parse(&name, &js_sys::Uint8Array::new(&buffer).to_vec())
}

fn js_error(value: &wasm_bindgen::JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "the browser refused the request".to_owned())
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let location = window().location();
        let search = location.search().unwrap_or_default();
        let params = web_sys::UrlSearchParams::new_with_str(&search).ok();
        let get = |key: &str| params.as_ref().and_then(|p| p.get(key));
        let pairs: Vec<(String, String)> = ["severity", "category", "table", "q"]
            .iter()
            .filter_map(|k| get(k).map(|v| ((*k).to_owned(), v)))
            .collect();
        let filter = Filter::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut app = App {
            report: None,
            before: None,
            error: None,
            loading: 0,
            filter,
            selected: get("view_table"),
            share: None,
            limit: model::PAGE,
            open: Default::default(),
        };
        let hash = location.hash().unwrap_or_default();
        if hash.starts_with("#r=") {
            match model::from_fragment(&hash) {
                Ok(report) => app.report = Some(Loaded { name: "shared report".into(), report }),
                Err(err) => app.error = Some(err.to_string()),
            }
        } else if let Some(src) = get("src") {
            app.loading += 1;
            ctx.link().send_future(async move {
                let result = fetch(src.clone()).await;
                Msg::Loaded { slot: Slot::Report, name: src, result: Box::new(result) }
            });
        }
        if let Some(before) = get("before") {
            app.loading += 1;
            ctx.link().send_future(async move {
                let result = fetch(before.clone()).await;
                Msg::Loaded { slot: Slot::Before, name: before, result: Box::new(result) }
            });
        }
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Loaded { slot, name, result } => {
                self.loading = self.loading.saturating_sub(1);
                match *result {
                    Ok(report) => {
                        self.error = None;
                        self.limit = model::PAGE;
                        self.open.clear();
                        let loaded = Some(Loaded { name, report });
                        match slot {
                            Slot::Report => self.report = loaded,
                            Slot::Before => self.before = loaded,
                        }
                        self.share = None;
                    }
                    Err(err) => self.error = Some(err.to_string()),
                }
            }
            Msg::File { slot, file } => {
                self.loading += 1;
                let name = file.name();
                ctx.link().send_future(async move { Msg::Loaded { slot, name, result: Box::new(read(file).await) } });
            }
            Msg::Severity(value) => {
                self.filter.severity = model::severity(&value);
                self.limit = model::PAGE;
            }
            Msg::Category(value) => {
                self.filter.category = (!value.is_empty()).then_some(value);
                self.limit = model::PAGE;
            }
            Msg::Table(value) => {
                self.filter.table = (!value.is_empty()).then_some(value);
                self.limit = model::PAGE;
            }
            Msg::Text(value) => {
                self.filter.text = value;
                self.limit = model::PAGE;
            }
            Msg::More => self.limit += model::PAGE,
            Msg::Evidence(key) => {
                if !self.open.remove(&key) {
                    self.open.insert(key);
                }
            }
            Msg::Select(table) => self.selected = table,
            Msg::Share => {
                self.share = self.report.as_ref().map(|loaded| {
                    // Made when asked for: the report as JSON, compressed into the link.
                    let json = serde_json::to_string(&loaded.report).unwrap_or_default();
                    model::share_fragment(&json).map(|fragment| {
                        let location = window().location();
                        let base = format!(
                            "{}{}",
                            location.origin().unwrap_or_default(),
                            location.pathname().unwrap_or_default()
                        );
                        format!("{base}#{fragment}")
                    })
                })
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <>
            <header class="controls">
                <h1>{ "tenancy report" }</h1>
                { loader(link, Slot::Report, "Report", self.report.as_ref().map(|l| l.name.as_str())) }
                { loader(link, Slot::Before, "Compare with (before)", self.before.as_ref().map(|l| l.name.as_str())) }
                if self.report.is_some() {
                    <button id="share" onclick={link.callback(|_| Msg::Share)}>{ "Share link" }</button>
                }
            </header>
            if let Some(share) = &self.share {
                <p id="share-result" class="controls">{
                    match share {
                        Ok(url) => html! { <input readonly=true value={url.clone()} aria-label="share link" size="60" /> },
                        Err(message) => html! { <span class="notice">{ message }</span> },
                    }
                }</p>
            }
            if let Some(error) = &self.error {
                <div id="error" role="alert">{ error }</div>
            }
            if self.loading > 0 {
                <p id="loading">{ "Loading…" }</p>
            }
            <main>
            {
                match &self.report {
                    None => html! {
                        <p id="empty">
                            { "Open a report (tenancy-migrate scan --format json -o report.json), drop it on this page, or link to one with ?src=URL." }
                        </p>
                    },
                    Some(loaded) => self.report_view(link, loaded),
                }
            }
            </main>
            </>
        }
    }
}

/// A labelled file picker that also takes a dropped file.
fn loader(link: &yew::html::Scope<App>, slot: Slot, label: &str, current: Option<&str>) -> Html {
    let onchange = link.batch_callback(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        input.files().and_then(|files| files.get(0)).map(|file| Msg::File { slot, file })
    });
    let ondrop = link.batch_callback(move |e: DragEvent| {
        e.prevent_default();
        e.data_transfer().and_then(|d| d.files()).and_then(|files| files.get(0)).map(|file| Msg::File { slot, file })
    });
    let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
    let id = if slot == Slot::Report { "load-report" } else { "load-before" };
    html! {
        <div class="loader" {ondrop} {ondragover}>
            <label for={id}>{ label }</label>
            <input type="file" id={id} accept=".json,application/json" {onchange} />
            <span class="current">{ current.map_or_else(|| "or drop a file here".to_owned(), |name| format!("loaded: {name}")) }</span>
        </div>
    }
}

impl App {
    fn report_view(&self, link: &yew::html::Scope<App>, loaded: &Loaded) -> Html {
        let report = &loaded.report;
        html! {
            <>
            { summary(report) }
            if let Some(before) = &self.before {
                { diff_view(&before.report, report) }
            }
            if let Some(table) = &self.selected {
                { table_page(link, report, table) }
            }
            if report.verify.is_some() {
                { verify_matrix(link, report) }
            }
            { self.findings(link, report) }
            </>
        }
    }

    fn findings(&self, link: &yew::html::Scope<App>, report: &Report) -> Html {
        let shown = model::filtered(report, &self.filter);
        let select = |f: fn(String) -> Msg| {
            link.callback(move |e: Event| f(e.target_unchecked_into::<HtmlSelectElement>().value()))
        };
        let severity = self.filter.severity.map(model::severity_name).unwrap_or("");
        let options = |values: Vec<String>, current: Option<&String>| -> Html {
            values
                .into_iter()
                .map(|v| html! { <option value={v.clone()} selected={current == Some(&v)}>{ v.clone() }</option> })
                .collect()
        };
        let (page, left) = model::page(&shown, self.limit);
        html! {
            <section id="findings">
                <h2>{ format!("Findings ({} of {})", shown.len(), report.findings.len()) }</h2>
                <div class="controls filters">
                    <label>{ "Severity " }
                        <select id="filter-severity" onchange={select(Msg::Severity)}>
                            <option value="" selected={severity.is_empty()}>{ "all" }</option>
                            <option value="error" selected={severity == "error"}>{ "error" }</option>
                            <option value="warn" selected={severity == "warn"}>{ "warn and worse" }</option>
                            <option value="info" selected={severity == "info"}>{ "info and worse" }</option>
                        </select>
                    </label>
                    <label>{ "Category " }
                        <select id="filter-category" onchange={select(Msg::Category)}>
                            <option value="">{ "all" }</option>
                            { options(model::categories(report), self.filter.category.as_ref()) }
                        </select>
                    </label>
                    <label>{ "Table " }
                        <select id="filter-table" onchange={select(Msg::Table)}>
                            <option value="">{ "all" }</option>
                            { options(model::tables(report), self.filter.table.as_ref()) }
                        </select>
                    </label>
                    <label>{ "Search " }
                        <input id="filter-text" type="search" value={self.filter.text.clone()}
                            oninput={link.callback(|e: InputEvent| Msg::Text(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                    </label>
                </div>
                <table class="findings">
                    <thead><tr><th>{ "Severity" }</th><th>{ "Code" }</th><th>{ "Table" }</th><th>{ "Finding" }</th></tr></thead>
                    <tbody>{ for page.iter().map(|f| finding_row(link, f, self.open.contains(&f.cache_key))) }</tbody>
                </table>
                if left > 0 {
                    <p class="more" data-left={left.to_string()}>
                        { format!("showing {} of {}; ", page.len(), shown.len()) }
                        <button id="more" onclick={link.callback(|_| Msg::More)}>
                            { format!("show {} more", left.min(model::PAGE)) }
                        </button>
                    </p>
                }
            </section>
        }
    }
}

fn summary(report: &Report) -> Html {
    let s = &report.summary;
    let item = |field: &'static str, label: &'static str, value: String| {
        html! { <div class="stat" data-field={field}><dt>{ label }</dt><dd>{ value }</dd></div> }
    };
    html! {
        <section id="summary">
            <h2>{ format!("{} — {}", report.database.name, report.generated_at) }</h2>
            <dl>
                { item("tables_scanned", "Tables", s.tables_scanned.to_string()) }
                { item("declared_tables", "Declared", s.declared_tables.to_string()) }
                { item("errors", "Errors", s.errors.to_string()) }
                { item("warnings", "Warnings", s.warnings.to_string()) }
                { item("infos", "Infos", s.infos.to_string()) }
                { item("rls_coverage", "RLS coverage", format!("{}/{}", s.rls_coverage.enabled, s.rls_coverage.total)) }
                { item("compliance_percent", "Compliance", format!("{}%", s.compliance_percent)) }
            </dl>
            if let Some(v) = &report.verify {
                <p id="verify-summary" class={if v.counts.leaked + v.counts.error == 0 { "pass" } else { "fail" }}>{
                    format!(
                        "verify as {}: {} blocked, {} allowed, {} leaked, {} errors, {} observable by design (info); {}",
                        v.role, v.counts.blocked, v.counts.allowed, v.counts.leaked, v.counts.error, v.counts.info,
                        if v.checksum_before == v.checksum_after { "no trace left" } else { "the checksums differ" }
                    )
                }</p>
            }
        </section>
    }
}

fn severity_class(severity: Severity) -> &'static str {
    model::severity_name(severity)
}

fn finding_row(link: &yew::html::Scope<App>, finding: &Finding, open: bool) -> Html {
    let table = finding.table.clone();
    let onclick = link.callback(move |_| Msg::Select(table.clone()));
    let key = finding.cache_key.clone();
    let toggle = link.callback(move |_| Msg::Evidence(key.clone()));
    html! {
        <tr class={classes!("finding", severity_class(finding.severity))} data-key={finding.cache_key.clone()}>
            <td>{ model::severity_name(finding.severity) }</td>
            <td><code>{ &finding.code }</code></td>
            <td>{
                match &finding.table {
                    Some(t) => html! { <button class="link" {onclick}>{ t }</button> },
                    None => html! { <span>{ "(database)" }</span> },
                }
            }</td>
            <td>
                <p>{ &finding.message }</p>
                <button class="link evidence" onclick={toggle}>
                    { if open { "hide fix and evidence" } else { "fix and evidence" } }
                </button>
                // Rendered only when asked for: a report's evidence is most of its size.
                if open {
                    <div class="evidence">
                        <p><strong>{ "Fix: " }</strong><code>{ &finding.remediation }</code></p>
                        <p><strong>{ "Query" }</strong></p><pre>{ &finding.evidence.sql }</pre>
                        <p><strong>{ "Returned" }</strong></p><pre>{ &finding.evidence.result }</pre>
                        <p class="key">{ format!("ignore key: {}", finding.cache_key) }</p>
                    </div>
                }
            </td>
        </tr>
    }
}

fn outcome_mark(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Blocked => ("blocked", "blocked"),
        Outcome::Allowed => ("allowed", "allowed"),
        Outcome::Leaked => ("LEAKED", "leaked"),
        Outcome::Error => ("ERROR", "error"),
        Outcome::Skipped => ("–", "skipped"),
        Outcome::Info => ("info", "info"),
    }
}

fn verify_matrix(link: &yew::html::Scope<App>, report: &Report) -> Html {
    let Some(v) = &report.verify else { return html! {} };
    html! {
        <section id="verify">
            <h2>{ format!("Verify: {} tables × {} attacks", v.tables.len(), v.attacks.len()) }</h2>
            <div class="scroll">
            <table class="matrix">
                <thead><tr><th>{ "table" }</th>{ for v.attacks.iter().map(|a| html! { <th><span>{ a.replace('_', " ") }</span></th> }) }</tr></thead>
                <tbody>{ for v.tables.iter().map(|t| {
                    let name = t.table.clone();
                    let onclick = link.callback(move |_| Msg::Select(Some(name.clone())));
                    html! {
                        <tr data-table={t.table.clone()}>
                            <th><button class="link" {onclick}>{ &t.table }</button></th>
                            if let Some(reason) = &t.skipped {
                                <td colspan={v.attacks.len().to_string()} class="skipped">{ format!("skipped: {reason}") }</td>
                            } else {
                                { for t.cells.iter().map(|c| {
                                    let (text, class) = outcome_mark(c.outcome);
                                    html! { <td class={classes!("cell", class)} title={format!("{}\n=> {}", c.evidence.sql, c.evidence.result)}>{ text }</td> }
                                }) }
                            }
                        </tr>
                    }
                }) }</tbody>
            </table>
            </div>
            if !v.objects.is_empty() {
                <h3>{ "Around the tables" }</h3>
                <ul id="verify-objects">{ for v.objects.iter().map(|o| {
                    let (text, class) = outcome_mark(o.cell.outcome);
                    html! {
                        <li data-object={o.object.clone()}>
                            <span class={classes!("cell", class)} title={format!("{}\n=> {}", o.cell.evidence.sql, o.cell.evidence.result)}>{ text }</span>
                            { format!(" {} {}", o.cell.attack.replace('_', " "), o.object) }
                        </li>
                    }
                }) }</ul>
            }
            if !v.notes.is_empty() {
                <h3>{ "What \"0 leaked\" does not cover" }</h3>
                <ul id="verify-notes">{ for v.notes.iter().map(|n| html! {
                    <li data-note={n.code.clone()}>
                        <details><summary>{ &n.message }</summary>
                            <pre>{ format!("{}\n=> {}", n.evidence.sql, n.evidence.result) }</pre>
                        </details>
                    </li>
                }) }</ul>
            }
        </section>
    }
}

fn table_page(link: &yew::html::Scope<App>, report: &Report, table: &str) -> Html {
    let view = model::table_view(report, table);
    html! {
        <section id="table-view">
            <h2>{ format!("Table {table}") }
                <button class="controls" onclick={link.callback(|_| Msg::Select(None))}>{ "close" }</button>
            </h2>
            <p>{ format!("{} findings", view.findings.len()) }</p>
            <ul>{ for model::page(&view.findings, model::PAGE).0.iter().map(|f| html! {
                <li class={severity_class(f.severity)}><code>{ &f.code }</code>{ " " }{ &f.message }</li>
            }) }</ul>
            if view.findings.len() > model::PAGE {
                <p class="more">{ format!("and {} more: filter the findings table by this table", view.findings.len() - model::PAGE) }</p>
            }
            if let Some(row) = view.verify {
                <h3>{ "Verify" }</h3>
                if let Some(reason) = &row.skipped {
                    <p>{ format!("skipped: {reason}") }</p>
                }
                <dl class="attacks">{ for row.cells.iter().map(|c| {
                    let (text, class) = outcome_mark(c.outcome);
                    html! {
                        <>
                        <dt>{ c.attack.replace('_', " ") }</dt>
                        <dd class={class}>{ text }
                            <details><summary>{ "evidence" }</summary><pre>{ &c.evidence.sql }</pre><pre>{ &c.evidence.result }</pre></details>
                        </dd>
                        </>
                    }
                }) }</dl>
            }
        </section>
    }
}

fn diff_view(before: &Report, after: &Report) -> Html {
    let d = model::diff(before, after);
    let list = |id: &'static str, title: &'static str, findings: &[&Finding]| {
        let (page, left) = model::page(findings, model::PAGE);
        html! {
            <div class="diff-list" id={id} data-count={findings.len().to_string()}>
                <h3>{ format!("{title}: {}", findings.len()) }</h3>
                <ul>{ for page.iter().map(|f| html! {
                    <li class={severity_class(f.severity)}><code>{ &f.cache_key }</code>{ " " }{ &f.message }</li>
                }) }</ul>
                if left > 0 {
                    <p class="more">{ format!("and {left} more: the findings table below lists them all") }</p>
                }
            </div>
        }
    };
    html! {
        <section id="diff">
            <h2>{ format!("Before ({}) → after ({})", before.generated_at, after.generated_at) }</h2>
            <p class="diff-counts">{
                format!("{} resolved, {} new, {} unchanged", d.resolved.len(), d.new.len(), d.unchanged.len())
            }</p>
            { list("diff-resolved", "Resolved", &d.resolved) }
            { list("diff-new", "New", &d.new) }
            <details>
                <summary>{ format!("Unchanged: {}", d.unchanged.len()) }</summary>
                { list("diff-unchanged", "Unchanged", &d.unchanged) }
            </details>
        </section>
    }
}
