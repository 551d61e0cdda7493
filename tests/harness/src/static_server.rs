//! A small static file server for `dist/` on 127.0.0.1 (HTTP/1.1, GET and HEAD, one thread per request).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A file served from memory instead of the folder.
#[derive(Clone, Debug)]
struct Extra {
    content_type: String,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Site {
    root: PathBuf,
    extras: HashMap<String, Extra>,
    headers: Vec<(String, String)>,
    log: Vec<String>,
    /// Brotli-compress responses for clients that accept it, as a production server would.
    brotli: bool,
    /// Response bodies' bytes sent so far.
    sent: u64,
    /// Caching headers as `docs/deploy.md` gives them, with `ETag` revalidation.
    documented_caching: bool,
    /// Compressed bodies by path (each compressed once: quality 11 takes seconds for the wasm).
    compressed: HashMap<String, Arc<Vec<u8>>>,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    site: Arc<Mutex<Site>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` on 127.0.0.1:`port` (0 picks a free port).
    pub fn start(root: &Path, port: u16) -> std::io::Result<StaticServer> {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let site = Arc::new(Mutex::new(Site {
            root: root.to_path_buf(),
            ..Site::default()
        }));
        let thread = {
            let stop = stop.clone();
            let site = site.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let site = site.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &site);
                        });
                    }
                }
            })
        };
        Ok(StaticServer {
            port,
            stop,
            site,
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Serves `body` at `path` (e.g. `/config.json`), in place of any file there.
    pub fn set_file(&self, path: &str, content_type: &str, body: Vec<u8>) {
        if let Ok(mut site) = self.site.lock() {
            site.extras.insert(
                path.to_string(),
                Extra {
                    content_type: content_type.to_string(),
                    body,
                },
            );
        }
    }

    /// Adds a header to every response.
    pub fn add_header(&self, name: &str, value: &str) {
        if let Ok(mut site) = self.site.lock() {
            site.headers.push((name.to_string(), value.to_string()));
        }
    }

    /// From now on, answers requests that accept `br` with the body brotli-compressed (quality
    /// 11, window 22: what `cargo xtask bench size` counts) and `Content-Encoding: br`.
    pub fn compress_with_brotli(&self) {
        if let Ok(mut site) = self.site.lock() {
            site.brotli = true;
        }
    }

    /// From now on, sends the caching headers of `docs/deploy.md` (`immutable` for the files with a
    /// content hash in their name, `no-cache` for the others) and, as nginx and Caddy do, an `ETag`
    /// on every file, answering a matching `If-None-Match` with `304 Not Modified`.
    pub fn cache_as_documented(&self) {
        if let Ok(mut site) = self.site.lock() {
            site.documented_caching = true;
        }
    }

    /// The bytes of response bodies sent so far (compressed ones as sent).
    pub fn bytes_sent(&self) -> u64 {
        self.site.lock().map(|s| s.sent).unwrap_or_default()
    }

    /// The request lines served so far (`GET /path 200`).
    pub fn request_log(&self) -> Vec<String> {
        self.site.lock().map(|s| s.log.clone()).unwrap_or_default()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The MIME type for a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(stream: TcpStream, site: &Mutex<Site>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers, noting whether brotli is accepted.
    let mut accepts_brotli = false;
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("accept-encoding") {
                accepts_brotli |= value.split(',').any(|v| v.trim().starts_with("br"));
            }
            if name.trim().eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_string());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");

    let (status, ctype, body, headers, brotli, caching) = {
        let site = site.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let found = if method != "GET" && method != "HEAD" {
            None
        } else if let Some(extra) = site.extras.get(path) {
            Some((extra.content_type.clone(), extra.body.clone()))
        } else {
            resolve(&site.root, path).and_then(|file| {
                std::fs::read(&file)
                    .ok()
                    .map(|body| (content_type(&file.to_string_lossy()).to_string(), body))
            })
        };
        let (status, ctype, body) = match found {
            Some((ctype, body)) => ("200 OK", ctype, body),
            None if method != "GET" && method != "HEAD" => (
                "405 Method Not Allowed",
                "text/plain".to_string(),
                b"method not allowed\n".to_vec(),
            ),
            None => (
                "404 Not Found",
                "text/plain".to_string(),
                b"not found\n".to_vec(),
            ),
        };
        let brotli = site.brotli && accepts_brotli && status.starts_with("200");
        let caching = (site.documented_caching && status.starts_with("200"))
            .then(|| (cache_control(path), etag(&body)));
        (status, ctype, body, site.headers.clone(), brotli, caching)
    };
    let (status, body, cache) = match caching {
        Some((_, tag)) if if_none_match.as_deref() == Some(tag.as_str()) => {
            ("304 Not Modified", Vec::new(), format!("ETag: {tag}\r\n"))
        }
        Some((control, tag)) => (
            status,
            body,
            format!("Cache-Control: {control}\r\nETag: {tag}\r\n"),
        ),
        None => (status, body, "Cache-Control: no-cache\r\n".to_string()),
    };
    let (body, encoding) = if brotli && !body.is_empty() {
        (
            brotli_body(site, path, body)?,
            "Content-Encoding: br\r\nVary: Accept-Encoding\r\n",
        )
    } else {
        (body, "")
    };
    if let Ok(mut site) = site.lock() {
        site.log.push(format!(
            "{method} {path} {}",
            status.split(' ').next().unwrap_or("")
        ));
    }
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{encoding}{cache}Connection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&body)?;
        if let Ok(mut site) = site.lock() {
            site.sent += body.len() as u64;
        }
    }
    out.flush()
}

/// `docs/deploy.md`'s `Cache-Control` for `path`: `immutable` when the name carries a content hash
/// (`-<16 hex digits>` before `.js`, `.css` or `_bg.wasm`).
fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    let stem = [".js", ".css", "_bg.wasm"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or("");
    let hashed = stem.len() > 17
        && stem.as_bytes()[stem.len() - 17] == b'-'
        && stem[stem.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit());
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// A strong validator for `body` (its length and a 64-bit FNV-1a hash).
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{:x}-{hash:016x}\"", body.len())
}

/// `body` (served at `path`) brotli-compressed, from the cache when it was compressed before.
fn brotli_body(site: &Mutex<Site>, path: &str, body: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let key = format!("{path} {}", body.len());
    if let Some(done) = site
        .lock()
        .ok()
        .and_then(|s| s.compressed.get(&key).cloned())
    {
        return Ok(done.as_ref().clone());
    }
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(&body)?;
    }
    if let Ok(mut site) = site.lock() {
        site.compressed.insert(key, Arc::new(out.clone()));
    }
    Ok(out)
}

/// Maps a URL path to a file under `root`, refusing anything that escapes it; `/` is `index.html`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let candidate = Path::new(relative);
    if candidate
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(candidate);
    file.is_file().then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    }

    #[test]
    fn serves_files_extras_and_refuses_escapes() {
        let dir = crate::fresh_dir("harness", "static").unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("app.wasm"), [0u8, 97, 115, 109]).unwrap();
        let server = StaticServer::start(&dir, 0).unwrap();
        server.set_file("/config.json", "application/json", b"{}".to_vec());
        server.add_header("X-Test", "1");

        let index = get(server.port(), "/");
        assert!(index.starts_with("HTTP/1.1 200"), "{index}");
        assert!(index.contains("text/html"));
        assert!(index.contains("X-Test: 1"));
        assert!(index.ends_with("<p>hi</p>"));
        assert!(get(server.port(), "/app.wasm").contains("application/wasm"));
        assert!(get(server.port(), "/config.json?x=1").ends_with("{}"));
        assert!(get(server.port(), "/../Cargo.toml").starts_with("HTTP/1.1 404"));
        assert!(get(server.port(), "/missing").starts_with("HTTP/1.1 404"));
        assert_eq!(server.request_log().len(), 5);
    }

    #[test]
    fn documented_caching_marks_hashed_files_immutable_and_revalidates_the_others() {
        assert_eq!(
            cache_control("/candado-3d9aaf57050c1efa_bg.wasm"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("/boot-86900b633dae7329.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("/candado-worker_bg.wasm"), "no-cache");
        assert_eq!(cache_control("/sw.js"), "no-cache");
        assert_eq!(cache_control("/candado-3d9aaf57050c1efg.js"), "no-cache");

        let dir = crate::fresh_dir("harness", "static-cache").unwrap();
        std::fs::write(dir.join("sw.js"), "// v1").unwrap();
        let server = StaticServer::start(&dir, 0).unwrap();
        server.cache_as_documented();
        let fetch = |extra: &str| -> String {
            let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
            write!(s, "GET /sw.js HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
            let mut out = String::new();
            std::io::Read::read_to_string(&mut s, &mut out).unwrap();
            out
        };
        let first = fetch("");
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains("Cache-Control: no-cache"), "{first}");
        let tag = first
            .lines()
            .find_map(|l| l.strip_prefix("ETag: "))
            .unwrap()
            .to_string();
        let again = fetch(&format!("If-None-Match: {tag}\r\n"));
        assert!(again.starts_with("HTTP/1.1 304"), "{again}");
        assert!(again.ends_with("\r\n\r\n"), "a 304 has no body: {again}");
        std::fs::write(dir.join("sw.js"), "// v2").unwrap();
        let changed = fetch(&format!("If-None-Match: {tag}\r\n"));
        assert!(changed.starts_with("HTTP/1.1 200"), "{changed}");
        assert!(changed.ends_with("// v2"), "{changed}");
    }

    #[test]
    fn compresses_with_brotli_only_when_asked_and_accepted() {
        let dir = crate::fresh_dir("harness", "static-br").unwrap();
        let page = "<p>hola</p>".repeat(500);
        std::fs::write(dir.join("index.html"), &page).unwrap();
        let server = StaticServer::start(&dir, 0).unwrap();
        let fetch = |accept: &str| -> (String, Vec<u8>) {
            let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
            write!(
                s,
                "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n\r\n"
            )
            .unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut out).unwrap();
            let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8(out[..at].to_vec()).unwrap();
            (head, out[at + 4..].to_vec())
        };
        let (head, body) = fetch("gzip, deflate, br");
        assert!(!head.contains("Content-Encoding"), "{head}");
        assert_eq!(body, page.as_bytes());

        server.compress_with_brotli();
        for _ in 0..2 {
            let (head, body) = fetch("gzip, deflate, br");
            assert!(head.contains("Content-Encoding: br"), "{head}");
            assert!(
                head.contains(&format!("Content-Length: {}", body.len())),
                "{head}"
            );
            assert!(body.len() < page.len() / 10, "{} bytes", body.len());
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut brotli::Decompressor::new(&body[..], 4096), &mut plain)
                .unwrap();
            assert_eq!(plain, page.as_bytes());
        }
        let (head, body) = fetch("gzip");
        assert!(!head.contains("Content-Encoding"), "{head}");
        assert_eq!(body, page.as_bytes());
        let compressed = fetch("br").1.len() as u64;
        assert_eq!(server.bytes_sent(), 2 * page.len() as u64 + 3 * compressed);
    }
}
