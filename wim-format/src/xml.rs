//! The WIM's XML data: UTF-16LE with a byte-order mark, describing the WIM and each
//! image. Read by element name, never by position (writers order elements differently);
//! every element is kept as a generic [`Element`] tree so that unknown ones (a
//! provisioning package has several) can be written back.
//!
//! The reader is small and strict enough for this purpose: elements, attributes, text,
//! CDATA, the five named entities and numeric character references; comments,
//! processing instructions and a DOCTYPE are skipped. Nesting is bounded and nothing
//! recurses.

use crate::error::{Error, Result};

/// Deepest element nesting accepted.
pub const MAX_XML_DEPTH: usize = 256;

/// Content of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlNode {
    Element(Element),
    Text(String),
}

/// An element with its attributes and content in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<XmlNode>,
}

impl Element {
    /// The first child element named `name` (case-sensitive, as WIM writers agree).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            XmlNode::Element(e) => Some(e),
            XmlNode::Text(_) => None,
        })
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The element's own text, whitespace-trimmed.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let XmlNode::Text(t) = c {
                s.push_str(t);
            }
        }
        s.trim().to_string()
    }

    /// Text of the child `name`.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::text)
    }

    /// Number in the child `name` (decimal, or hex with `0x`).
    pub fn child_u64(&self, name: &str) -> Option<u64> {
        self.child(name).and_then(|e| parse_u64(&e.text()))
    }
}

/// Parses a decimal number, or a hexadecimal one with a `0x` prefix.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(h, 16).ok()
}

/// Decodes the XML resource: UTF-16LE (with or without a BOM) or UTF-8 (with a BOM or
/// starting with `<`). Unpaired surrogates become U+FFFD.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || (bytes.len() >= 2 && bytes[1] == 0);
    if !utf16 {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let body = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16_lossy(&units);
    // Some writers end the document with a NUL.
    s.trim_end_matches('\0').to_string()
}

fn invalid(what: &'static str, offset: usize) -> Error {
    Error::InvalidXml {
        what,
        offset: offset as u64,
    }
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// Skips past `end`, or fails.
    fn skip_past(&mut self, end: &str, what: &'static str) -> Result<&'a str> {
        let r = self.rest();
        let i = r.find(end).ok_or_else(|| invalid(what, self.pos))?;
        self.pos += i + end.len();
        Ok(&r[..i])
    }

    fn name(&mut self) -> Result<&'a str> {
        let r = self.rest();
        let n = r
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '=' | '<'))
            .unwrap_or(r.len());
        if n == 0 {
            return Err(invalid("expected a name", self.pos));
        }
        self.pos += n;
        Ok(&r[..n])
    }
}

/// Replaces entity and character references.
fn unescape(s: &str, at: usize) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let end = rest
            .find(';')
            .filter(|&e| e <= 12)
            .ok_or_else(|| invalid("unterminated reference", at))?;
        let r = &rest[..end];
        let c = match r {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(h) = r.strip_prefix("#x").or_else(|| r.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = r.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| invalid("unknown reference", at))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a whole document and returns its root element.
pub fn parse_document(text: &str) -> Result<Element> {
    let mut r = Reader { s: text, pos: 0 };
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        if stack.is_empty() {
            r.skip_ws();
            if r.rest().is_empty() {
                break;
            }
            if !r.rest().starts_with('<') {
                return Err(invalid("text outside the root element", r.pos));
            }
        }
        let rest = r.rest();
        if rest.is_empty() {
            return Err(invalid("document ends inside an element", r.pos));
        }
        if !rest.starts_with('<') {
            let i = rest.find('<').unwrap_or(rest.len());
            let at = r.pos;
            r.pos += i;
            let t = unescape(&rest[..i], at)?;
            if let Some(top) = stack.last_mut() {
                top.children.push(XmlNode::Text(t));
            }
            continue;
        }
        if rest.starts_with("<!--") {
            r.skip_past("-->", "unterminated comment")?;
        } else if rest.starts_with("<![CDATA[") {
            r.pos += 9;
            let t = r.skip_past("]]>", "unterminated CDATA")?.to_string();
            match stack.last_mut() {
                Some(top) => top.children.push(XmlNode::Text(t)),
                None => return Err(invalid("CDATA outside the root element", r.pos)),
            }
        } else if rest.starts_with("<?") {
            r.skip_past("?>", "unterminated processing instruction")?;
        } else if rest.starts_with("<!") {
            if !stack.is_empty() || root.is_some() {
                return Err(invalid("declaration inside the document", r.pos));
            }
            r.skip_past(">", "unterminated declaration")?;
        } else if rest.starts_with("</") {
            r.pos += 2;
            let name = r.name()?;
            r.skip_ws();
            if !r.rest().starts_with('>') {
                return Err(invalid("malformed end tag", r.pos));
            }
            r.pos += 1;
            let done = stack
                .pop()
                .ok_or_else(|| invalid("end tag without start", r.pos))?;
            if done.name != name {
                return Err(invalid("mismatched end tag", r.pos));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(XmlNode::Element(done)),
                None => root = Some(done),
            }
        } else {
            if root.is_some() && stack.is_empty() {
                return Err(invalid("second root element", r.pos));
            }
            r.pos += 1;
            let mut el = Element {
                name: r.name()?.to_string(),
                ..Element::default()
            };
            let empty = loop {
                r.skip_ws();
                let rest = r.rest();
                if rest.starts_with("/>") {
                    r.pos += 2;
                    break true;
                }
                if rest.starts_with('>') {
                    r.pos += 1;
                    break false;
                }
                let key = r.name()?.to_string();
                r.skip_ws();
                if !r.rest().starts_with('=') {
                    return Err(invalid("attribute without a value", r.pos));
                }
                r.pos += 1;
                r.skip_ws();
                let quote = match r.rest().chars().next() {
                    Some(q @ ('"' | '\'')) => q,
                    _ => return Err(invalid("unquoted attribute value", r.pos)),
                };
                r.pos += 1;
                let at = r.pos;
                let raw = r.skip_past(
                    if quote == '"' { "\"" } else { "'" },
                    "unterminated attribute",
                )?;
                el.attributes.push((key, unescape(raw, at)?));
            };
            if empty {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(XmlNode::Element(el)),
                    None => root = Some(el),
                }
            } else {
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(invalid("elements nested too deeply", r.pos));
                }
                stack.push(el);
            }
        }
    }
    root.ok_or_else(|| invalid("no root element", 0))
}

/// VERSION of a WINDOWS block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowsVersion {
    pub major: Option<u64>,
    pub minor: Option<u64>,
    pub build: Option<u64>,
    pub sp_build: Option<u64>,
    pub sp_level: Option<u64>,
}

/// The WINDOWS block of an image (filled from the image's registry by capture tools).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowsInfo {
    pub arch: Option<u64>,
    pub product_name: Option<String>,
    pub edition_id: Option<String>,
    pub installation_type: Option<String>,
    pub hal: Option<String>,
    pub product_type: Option<String>,
    pub product_suite: Option<String>,
    pub languages: Vec<String>,
    pub default_language: Option<String>,
    pub system_root: Option<String>,
    pub version: Option<WindowsVersion>,
}

/// One IMAGE element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    /// The INDEX attribute.
    pub index: Option<u32>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub display_description: Option<String>,
    pub flags: Option<String>,
    pub dir_count: Option<u64>,
    pub file_count: Option<u64>,
    pub total_bytes: Option<u64>,
    pub hard_link_bytes: Option<u64>,
    /// FILETIMEs from HIGHPART/LOWPART.
    pub creation_time: Option<u64>,
    pub last_modification_time: Option<u64>,
    pub wimboot: Option<u64>,
    pub windows: Option<WindowsInfo>,
    /// The whole element, unknown children included.
    pub element: Element,
}

/// The parsed XML data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WimXml {
    /// WIM-level TOTALBYTES.
    pub total_bytes: Option<u64>,
    /// IMAGE elements in document order.
    pub images: Vec<ImageInfo>,
    /// The whole document (root element WIM).
    pub root: Element,
}

fn filetime(e: Option<&Element>) -> Option<u64> {
    let e = e?;
    let high = parse_hex(&e.child_text("HIGHPART")?)?;
    let low = parse_hex(&e.child_text("LOWPART")?)?;
    Some((high & 0xFFFF_FFFF) << 32 | (low & 0xFFFF_FFFF))
}

fn windows_info(w: &Element) -> WindowsInfo {
    let langs = w.child("LANGUAGES");
    WindowsInfo {
        arch: w.child_u64("ARCH"),
        product_name: w.child_text("PRODUCTNAME"),
        edition_id: w.child_text("EDITIONID"),
        installation_type: w.child_text("INSTALLATIONTYPE"),
        hal: w.child_text("HAL"),
        product_type: w.child_text("PRODUCTTYPE"),
        product_suite: w.child_text("PRODUCTSUITE"),
        languages: langs
            .map(|l| {
                l.elements()
                    .filter(|e| e.name == "LANGUAGE")
                    .map(Element::text)
                    .collect()
            })
            .unwrap_or_default(),
        default_language: langs.and_then(|l| l.child_text("DEFAULT")),
        system_root: w.child_text("SYSTEMROOT"),
        version: w.child("VERSION").map(|v| WindowsVersion {
            major: v.child_u64("MAJOR"),
            minor: v.child_u64("MINOR"),
            build: v.child_u64("BUILD"),
            sp_build: v.child_u64("SPBUILD"),
            sp_level: v.child_u64("SPLEVEL"),
        }),
    }
}

impl ImageInfo {
    fn from_element(e: &Element) -> Self {
        Self {
            index: e.attribute("INDEX").and_then(|i| i.trim().parse().ok()),
            name: e.child_text("NAME"),
            description: e.child_text("DESCRIPTION"),
            display_name: e.child_text("DISPLAYNAME"),
            display_description: e.child_text("DISPLAYDESCRIPTION"),
            flags: e.child_text("FLAGS"),
            dir_count: e.child_u64("DIRCOUNT"),
            file_count: e.child_u64("FILECOUNT"),
            total_bytes: e.child_u64("TOTALBYTES"),
            hard_link_bytes: e.child_u64("HARDLINKBYTES"),
            creation_time: filetime(e.child("CREATIONTIME")),
            last_modification_time: filetime(e.child("LASTMODIFICATIONTIME")),
            wimboot: e.child_u64("WIMBOOT"),
            windows: e.child("WINDOWS").map(windows_info),
            element: e.clone(),
        }
    }
}

impl WimXml {
    /// Parses the bytes of the XML resource.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_str(&decode_text(bytes))
    }

    pub fn parse_str(text: &str) -> Result<Self> {
        let root = parse_document(text)?;
        if root.name != "WIM" {
            return Err(invalid("root element is not WIM", 0));
        }
        Ok(Self {
            total_bytes: root.child_u64("TOTALBYTES"),
            images: root
                .elements()
                .filter(|e| e.name == "IMAGE")
                .map(ImageInfo::from_element)
                .collect(),
            root,
        })
    }

    /// The image with INDEX `index` (1-based), or failing that the `index`th IMAGE.
    pub fn image(&self, index: u32) -> Option<&ImageInfo> {
        self.images
            .iter()
            .find(|i| i.index == Some(index))
            .or_else(|| self.images.get((index as usize).checked_sub(1)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<?xml version=\"1.0\"?><!-- c --><WIM><IMAGE INDEX=\"2\"><NAME>a &amp; b&#x41;&#66;</NAME>\
        <DIRCOUNT>3</DIRCOUNT><CREATIONTIME><HIGHPART>0x01D9</HIGHPART><LOWPART>0x00000010</LOWPART></CREATIONTIME>\
        <WINDOWS><ARCH>9</ARCH><LANGUAGES><LANGUAGE>en-US</LANGUAGE><LANGUAGE>de-DE</LANGUAGE><DEFAULT>en-US</DEFAULT></LANGUAGES>\
        <VERSION><MAJOR>10</MAJOR><BUILD>19041</BUILD></VERSION></WINDOWS><EXTRA k='v'/></IMAGE>\
        <TOTALBYTES>1234</TOTALBYTES></WIM>";

    #[test]
    fn parse_wim_xml() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(DOC.encode_utf16().flat_map(u16::to_le_bytes));
        let x = WimXml::parse(&bytes).unwrap();
        assert_eq!(x.total_bytes, Some(1234));
        let i = x.image(2).unwrap();
        assert_eq!(i.name.as_deref(), Some("a & bAB"));
        assert_eq!(i.dir_count, Some(3));
        assert_eq!(i.creation_time, Some(0x01D9_0000_0010));
        let w = i.windows.as_ref().unwrap();
        assert_eq!(w.arch, Some(9));
        assert_eq!(w.languages, ["en-US", "de-DE"]);
        assert_eq!(w.default_language.as_deref(), Some("en-US"));
        assert_eq!(w.version.unwrap().build, Some(19041));
        assert_eq!(i.element.child("EXTRA").unwrap().attribute("k"), Some("v"));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "<WIM>",
            "<WIM></IMAGE>",
            "<WIM><A></WIM>",
            "<WIM a=b></WIM>",
            "<WIM>&bogus;</WIM>",
            "<WIM></WIM><WIM></WIM>",
            "<IMAGE></IMAGE>",
            "<WIM><!-- </WIM>",
            "<",
            "<WIM>&#xFFFFFFFF;</WIM>",
        ] {
            assert!(WimXml::parse_str(bad).is_err(), "{bad:?}");
        }
        let deep = "<WIM>".to_string() + &"<A>".repeat(100_000);
        assert!(WimXml::parse_str(&deep).is_err());
    }
}

#[cfg(test)]
mod mutation_tests {
    use super::*;

    /// Mutated documents never panic.
    #[test]
    fn mutations_never_panic() {
        let doc = "<WIM><TOTALBYTES>5</TOTALBYTES><IMAGE INDEX=\"1\"><NAME>a&amp;b</NAME>\
            <CREATIONTIME><HIGHPART>0x1</HIGHPART><LOWPART>0x2</LOWPART></CREATIONTIME>\
            <!-- c --><![CDATA[x]]><E a='1'/></IMAGE></WIM>";
        let chars: Vec<char> = doc.chars().collect();
        let pool = [
            '<', '>', '/', '&', ';', '#', 'x', '"', '\'', '=', '!', '?', '-', ' ', 'é',
        ];
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..20_000 {
            let mut c = chars.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() % c.len() as u64) as usize;
                c[i] = pool[(next() % pool.len() as u64) as usize];
            }
            let _ = WimXml::parse_str(&c.iter().collect::<String>());
        }
        // Odd byte counts and lone surrogates decode without panicking.
        let _ = WimXml::parse(&[0xFF, 0xFE, 0x00, 0xD8, b'<']);
    }
}
