//! The `dism` binary end to end: DISM's frame, and the read commands against wimlib-imagex.
use std::path::PathBuf;
use std::process::{Command, Output};

fn dism(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dism"))
        .arg("/LogPath:/tmp/wimkit-cli-test.log")
        .args(args)
        .output()
        .expect("run dism")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wimlib(args: &[&str]) -> String {
    let o = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .expect("wimlib-imagex is required (apt-get install wimtools)");
    assert!(
        o.status.success(),
        "wimlib-imagex {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A two-image WIM made by wimlib, in a fresh temp dir.
fn sample_wim(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("wimkit-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), "hello").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(src.join("sub/deeper/c.txt"), "ccc").unwrap();
    let wim = dir.join("x.wim");
    let w = wim.to_str().unwrap();
    wimlib(&[
        "capture",
        src.to_str().unwrap(),
        w,
        "First Image",
        "the first",
        "--compress=LZX",
    ]);
    std::fs::write(src.join("added.txt"), "more").unwrap();
    wimlib(&["append", src.to_str().unwrap(), w, "Second"]);
    (dir, wim)
}

#[test]
fn help_and_option_errors() {
    let o = dism(&["/?"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("/Get-ImageInfo"));
    let o = dism(&["/Get-ImageInfo", "/?"]);
    assert!(text(&o).contains("Dism /Get-ImageInfo /ImageFile:"));
    let o = dism(&["/Get-ImageInfo", "/ImageFile:x.wim", "/Bogus"]);
    assert_eq!(o.status.code(), Some(87));
    assert!(
        text(&o).contains("Error: 87\n\nDISM doesn't recognize the command-line option \"/Bogus\"")
    );
    let o = dism(&["/Get-ImageInfo", "/ImageFile:x.wim", "/Index:1", "/index=2"]);
    assert_eq!(o.status.code(), Some(87));
    let o = dism(&["/Get-ImageInfo", "/ImageFile"]);
    assert_eq!(o.status.code(), Some(87));
    assert!(text(&o).contains("The /ImageFile option is missing a required argument."));
    let o = dism(&["/Get-ImageInfo", "/ImageFile:x.wim", "/LogLevel:9"]);
    assert!(text(&o).contains("An invalid log level was specified."));
}

#[test]
fn missing_and_bad_files() {
    let o = dism(&["/Get-ImageInfo", "/ImageFile:/nonexistent/x.wim"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/x.wim"));
    let bad = std::env::temp_dir().join(format!("wimkit-cli-bad-{}.wim", std::process::id()));
    std::fs::write(
        &bad,
        b"this is not a wim file at all, just text that is long enough to be read",
    )
    .unwrap();
    let o = dism(&["/Get-ImageInfo", &format!("/ImageFile:{}", bad.display())]);
    assert_eq!(o.status.code(), Some(11), "{}", text(&o));
    assert!(text(&o).contains(&bad.display().to_string()));
    std::fs::remove_file(bad).unwrap();
}

#[test]
fn get_image_info_matches_wimlib() {
    let (dir, wim) = sample_wim("info");
    let w = wim.to_str().unwrap();
    let o = dism(&["/Get-ImageInfo", &format!("/ImageFile:{w}")]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o);
    assert!(out.contains(&format!("Details for image : {w}\n\nIndex : 1\nName : First Image\nDescription : the first\nSize : ")), "{out}");
    assert!(out.contains("Index : 2\nName : Second\n"));
    assert!(out
        .trim_end()
        .ends_with("The operation completed successfully."));
    // Sizes and counts agree with what wimlib reports.
    let info = wimlib(&["info", w, "2"]);
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split(':')
            .nth(1)
            .unwrap()
            .trim()
            .to_string()
    };
    let o = dism(&["/Get-WimInfo", &format!("/WimFile={w}"), "/Name:second"]);
    let out = text(&o);
    let size: u64 = field("Total Bytes").parse().unwrap();
    assert!(
        out.contains(&format!("Size : {} bytes", group(size))),
        "{out}"
    );
    assert!(out.contains(&format!("Directories : {}\n", field("Directory Count"))));
    assert!(out.contains(&format!("Files : {}\n", field("File Count"))));
    assert!(out.contains("WIM Bootable : No\n"));
    let o = dism(&["/Get-ImageInfo", &format!("/ImageFile:{w}"), "/Index:3"]);
    assert_eq!(o.status.code(), Some(87));
    let o = dism(&[
        "/Get-ImageInfo",
        &format!("/ImageFile:{w}"),
        "/Format:Json",
        "/Quiet",
    ]);
    let json = text(&o);
    assert!(
        json.starts_with("{\"ImageFile\": ") && json.contains("\"Name\": \"Second\""),
        "{json}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn list_image_matches_wimlib_dir() {
    let (dir, wim) = sample_wim("list");
    let w = wim.to_str().unwrap();
    for index in ["1", "2"] {
        let o = dism(&[
            "/List-Image",
            &format!("/ImageFile:{w}"),
            &format!("/Index:{index}"),
            "/Quiet",
        ]);
        assert_eq!(o.status.code(), Some(0));
        let mut ours: Vec<String> = text(&o).lines().map(|l| l.replace('\\', "/")).collect();
        let mut theirs: Vec<String> = wimlib(&["dir", w, index])
            .lines()
            .map(str::to_string)
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
    }
    let o = dism(&["/List-Image", &format!("/ImageFile:{w}")]);
    assert_eq!(o.status.code(), Some(87));
    std::fs::remove_dir_all(dir).unwrap();
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
