//! Writing the XML data: an [`Element`] tree as UTF-16LE text with a byte-order mark,
//! and the elements that describe an image (counts, times, name).

use crate::xml::{Element, ImageInfo, WimXml, XmlNode};

fn escape(s: &str, out: &mut String, attribute: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// The element as XML text (no declaration), written without recursion.
pub fn element_to_string(root: &Element) -> String {
    enum Step<'a> {
        Open(&'a Element),
        Close(&'a Element),
        Text(&'a str),
    }
    let mut out = String::new();
    let mut stack = vec![Step::Open(root)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => escape(t, &mut out, false),
            Step::Close(e) => {
                out.push_str("</");
                out.push_str(&e.name);
                out.push('>');
            }
            Step::Open(e) => {
                out.push('<');
                out.push_str(&e.name);
                for (k, v) in &e.attributes {
                    out.push(' ');
                    out.push_str(k);
                    out.push_str("=\"");
                    escape(v, &mut out, true);
                    out.push('"');
                }
                if e.children.is_empty() {
                    out.push_str("/>");
                    continue;
                }
                out.push('>');
                stack.push(Step::Close(e));
                for c in e.children.iter().rev() {
                    stack.push(match c {
                        XmlNode::Element(c) => Step::Open(c),
                        XmlNode::Text(t) => Step::Text(t),
                    });
                }
            }
        }
    }
    out
}

/// The bytes of the XML resource: byte-order mark, UTF-16LE text, a final newline.
pub fn xml_bytes(root: &Element) -> Vec<u8> {
    let mut s = element_to_string(root);
    s.push('\n');
    let mut out = Vec::with_capacity(2 + s.len() * 2);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn text_element(name: &str, text: String) -> Element {
    Element {
        name: name.into(),
        attributes: Vec::new(),
        children: vec![XmlNode::Text(text)],
    }
}

/// Sets the text of the first child `name` of `e` (replacing its content), or appends
/// such a child.
pub fn set_child_text(e: &mut Element, name: &str, text: impl Into<String>) {
    let text = text.into();
    for c in &mut e.children {
        if let XmlNode::Element(c) = c {
            if c.name == name {
                c.children = vec![XmlNode::Text(text)];
                return;
            }
        }
    }
    e.children.push(XmlNode::Element(text_element(name, text)));
}

/// Removes every child element `name` of `e`.
pub fn remove_child(e: &mut Element, name: &str) {
    e.children
        .retain(|c| !matches!(c, XmlNode::Element(c) if c.name == name));
}

/// A FILETIME element `{HIGHPART, LOWPART}` in upper-case hex, as WIM writers store it.
pub fn filetime_element(name: &str, t: u64) -> Element {
    Element {
        name: name.into(),
        attributes: Vec::new(),
        children: vec![
            XmlNode::Element(text_element("HIGHPART", format!("0x{:08X}", t >> 32))),
            XmlNode::Element(text_element(
                "LOWPART",
                format!("0x{:08X}", t & 0xFFFF_FFFF),
            )),
        ],
    }
}

/// Sets (replaces) the FILETIME child `name` of `e`.
pub fn set_filetime(e: &mut Element, name: &str, t: u64) {
    let new = filetime_element(name, t);
    for c in &mut e.children {
        if let XmlNode::Element(c) = c {
            if c.name == name {
                *c = new;
                return;
            }
        }
    }
    e.children.push(XmlNode::Element(new));
}

/// Counts of an image as wimlib computes them for the XML data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageCounts {
    /// Directories (not reparse points), the root included.
    pub dir_count: u64,
    /// Everything else.
    pub file_count: u64,
    /// Sizes of every stream of every dentry (hard links count each time).
    pub total_bytes: u64,
    /// The part of `total_bytes` from the second and later links of a file.
    pub hard_link_bytes: u64,
}

/// The counts of `image` (stream sizes must be filled in).
pub fn image_counts(image: &crate::metadata::Image) -> ImageCounts {
    use crate::metadata::dentry::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT};
    let mut c = ImageCounts::default();
    let mut seen_groups = std::collections::HashSet::new();
    for (_, id) in image.walk() {
        let n = image.node(id);
        if n.attributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)
            == FILE_ATTRIBUTE_DIRECTORY
        {
            c.dir_count += 1;
        } else {
            c.file_count += 1;
        }
        let bytes: u64 = n.streams.iter().filter_map(|s| s.size).sum();
        c.total_bytes += bytes;
        if n.hard_link_group != 0 && !seen_groups.insert(n.hard_link_group) {
            c.hard_link_bytes += bytes;
        }
    }
    c
}

/// A new IMAGE element for an image captured now.
pub fn new_image_element(
    counts: &ImageCounts,
    now: u64,
    name: Option<&str>,
    description: Option<&str>,
    flags: Option<&str>,
) -> Element {
    let mut e = Element {
        name: "IMAGE".into(),
        ..Element::default()
    };
    update_image_element(&mut e, counts, now);
    set_filetime(&mut e, "CREATIONTIME", now);
    if let Some(n) = name {
        set_child_text(&mut e, "NAME", n);
    }
    if let Some(d) = description {
        set_child_text(&mut e, "DESCRIPTION", d);
    }
    if let Some(f) = flags {
        set_child_text(&mut e, "FLAGS", f);
    }
    e
}

/// Sets the counts and the last modification time of an IMAGE element, keeping every
/// other child (NAME, WINDOWS, ...).
pub fn update_image_element(e: &mut Element, counts: &ImageCounts, now: u64) {
    set_child_text(e, "DIRCOUNT", counts.dir_count.to_string());
    set_child_text(e, "FILECOUNT", counts.file_count.to_string());
    set_child_text(e, "TOTALBYTES", counts.total_bytes.to_string());
    set_child_text(e, "HARDLINKBYTES", counts.hard_link_bytes.to_string());
    set_filetime(e, "LASTMODIFICATIONTIME", now);
}

/// The WIM element: `images` in order with INDEX 1.., the WIM-level TOTALBYTES last,
/// and the other children of `base` (a document read before) kept.
pub fn wim_element(base: Option<&Element>, images: &[Element], total_bytes: u64) -> Element {
    let mut root = Element {
        name: "WIM".into(),
        ..Element::default()
    };
    if let Some(b) = base {
        root.attributes = b.attributes.clone();
        for c in &b.children {
            match c {
                XmlNode::Element(e) if e.name == "IMAGE" || e.name == "TOTALBYTES" => {}
                XmlNode::Text(_) => {}
                c => root.children.push(c.clone()),
            }
        }
    }
    for (i, img) in images.iter().enumerate() {
        let mut img = img.clone();
        img.attributes.retain(|(k, _)| k != "INDEX");
        img.attributes
            .insert(0, ("INDEX".into(), (i + 1).to_string()));
        root.children.push(XmlNode::Element(img));
    }
    root.children.push(XmlNode::Element(text_element(
        "TOTALBYTES",
        total_bytes.to_string(),
    )));
    root
}

/// The IMAGE elements of a parsed document, in order.
pub fn image_elements(x: &WimXml) -> Vec<Element> {
    x.images
        .iter()
        .map(|i: &ImageInfo| i.element.clone())
        .collect()
}

/// The current time as a FILETIME.
pub fn now_filetime() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    116_444_736_000_000_000 + d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos()) / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_parser() {
        let counts = ImageCounts {
            dir_count: 3,
            file_count: 8,
            total_bytes: 154,
            hard_link_bytes: 6,
        };
        let mut img = new_image_element(
            &counts,
            0x01DD_7BA9_B2FA_2B3C,
            Some("a <&> \"b\""),
            Some("d"),
            Some("Core"),
        );
        let mut win = Element {
            name: "WINDOWS".into(),
            ..Element::default()
        };
        set_child_text(&mut win, "ARCH", "9");
        img.children.push(XmlNode::Element(win));
        let root = wim_element(None, &[img.clone(), img], 2440);
        let bytes = xml_bytes(&root);
        assert_eq!(&bytes[..2], &[0xFF, 0xFE]);
        let x = WimXml::parse(&bytes).unwrap();
        assert_eq!(x.total_bytes, Some(2440));
        assert_eq!(x.images.len(), 2);
        let i = x.image(2).unwrap();
        assert_eq!(i.index, Some(2));
        assert_eq!(i.name.as_deref(), Some("a <&> \"b\""));
        assert_eq!(i.description.as_deref(), Some("d"));
        assert_eq!(i.flags.as_deref(), Some("Core"));
        assert_eq!(i.dir_count, Some(3));
        assert_eq!(i.file_count, Some(8));
        assert_eq!(i.total_bytes, Some(154));
        assert_eq!(i.hard_link_bytes, Some(6));
        assert_eq!(i.creation_time, Some(0x01DD_7BA9_B2FA_2B3C));
        assert_eq!(i.windows.as_ref().unwrap().arch, Some(9));
        // Re-writing a parsed document keeps it.
        let again = wim_element(Some(&x.root), &image_elements(&x), 2440);
        assert_eq!(WimXml::parse(&xml_bytes(&again)).unwrap().root, x.root);
    }
}
