//! Whole-file operations: delete an image in place, export images to a new or an
//! existing WIM, optimize (rebuild without unused data), split into parts.

use std::path::{Path, PathBuf};

use crate::blob_table::BlobLocation;
use crate::error::{Error, Result};
use crate::file::WimFile;
use crate::header::{flags, Header, HEADER_SIZE};
use crate::metadata::{Image, StreamKind};
use crate::read::Wim;
use crate::resource::{ResourceFlags, ResourceHeader};
use crate::xml::Element;

use super::resource::{write_stored, Out};
use super::writer::{solid_order, WimWriter, WriteOptions};
use super::xml::{
    image_counts, now_filetime, set_child_text, update_image_element, wim_element, xml_bytes,
};

/// Deletes image `index` (1-based) of the WIM at `path` in place: its metadata
/// resource and XML element go, blobs no other image uses leave the blob table (their
/// bytes stay until [`optimize`]). The header is rewritten last.
pub fn delete_image(path: &Path, index: u32, opts: &WriteOptions) -> Result<()> {
    let file = WimFile::open(path)?;
    let wim = file.wim()?;
    let count = wim.image_count();
    if index == 0 || index > count {
        return Err(Error::NoSuchImage { index, count }.with_path(path));
    }
    let mut keep = Vec::new();
    for i in 1..=count {
        if i != index {
            keep.push(file.context(wim.image(i))?);
        }
    }
    let mut o = opts.clone();
    o.integrity = opts.integrity || wim.has_integrity_table();
    let mut w = WimWriter::in_place(path, &wim, &o)?;
    w.remove_image(index)?;
    w.recount(&keep);
    w.finish()?;
    Ok(())
}

/// Options of [`export_images`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// How the destination is written when it is created (an existing destination
    /// keeps its compression; `write.integrity` and `write.threads` still apply).
    pub write: WriteOptions,
    /// New NAME for the exported image (only when exporting one image).
    pub name: Option<String>,
    pub description: Option<String>,
    /// Make the (last) exported image the bootable one.
    pub bootable: bool,
    /// Mark the exported images WIMBoot-compatible (`WIMBOOT` 1 in their XML).
    pub wimboot: bool,
}

/// Copies the blobs `image` of `src` uses that `w` lacks; into a solid WIM in one
/// solid resource, similar files side by side ([`solid_order`]).
fn copy_image_blobs(w: &mut WimWriter, src: &Wim<'_>, image: &Image) -> Result<()> {
    let mut blobs = Vec::new();
    let mut names = Vec::new();
    for (id, n) in image.nodes.iter().enumerate() {
        for s in &n.streams {
            if s.hash == [0; 20] || w.has_blob(&s.hash) {
                continue;
            }
            let blob = *src.blob_table.get(&s.hash).ok_or(Error::MissingBlob {
                path: image.path(id),
                hash: s.hash,
            })?;
            blobs.push(blob);
            let file_data = s.kind == StreamKind::Data && s.name.is_none();
            names.push(file_data.then_some(n.name.as_str()));
        }
    }
    if w.is_solid() {
        blobs = solid_order(&names).into_iter().map(|i| blobs[i]).collect();
    }
    w.copy_blobs(src, &blobs)
}

fn copy_image(w: &mut WimWriter, src: &Wim<'_>, index: u32, element: Element) -> Result<()> {
    let image: Image = src.image(index)?;
    copy_image_blobs(w, src, &image)?;
    w.add_image(&image, element)?;
    // Absolute link targets the source stored relative to its root (rpfix)
    // stay fixed in the copy only if the destination says so too.
    if src.header.flags & crate::header::flags::RP_FIX != 0 {
        w.set_header_flag(crate::header::flags::RP_FIX);
    }
    Ok(())
}

fn exported_element(
    src: &Wim<'_>,
    index: u32,
    opts: &ExportOptions,
    single: bool,
) -> Result<Element> {
    let xml = src.xml()?;
    let mut e = xml
        .image(index)
        .map(|i| i.element.clone())
        .unwrap_or_else(|| Element {
            name: "IMAGE".into(),
            ..Element::default()
        });
    if single {
        if let Some(n) = &opts.name {
            set_child_text(&mut e, "NAME", n.clone());
        }
        if let Some(d) = &opts.description {
            set_child_text(&mut e, "DESCRIPTION", d.clone());
        }
    }
    if opts.wimboot {
        set_child_text(&mut e, "WIMBOOT", "1");
    }
    if e.child("DIRCOUNT").is_none() {
        let img = src.image(index)?;
        update_image_element(&mut e, &image_counts(&img), now_filetime());
    }
    Ok(e)
}

/// Exports images `indexes` (1-based) of `src` (a WIM or a whole split set) to `dest`:
/// appended in place when `dest` exists, a new WIM otherwise. Compressed resources are
/// copied as they are when the formats match, recompressed otherwise.
pub fn export_images(
    src: &Wim<'_>,
    indexes: &[u32],
    dest: &Path,
    opts: &ExportOptions,
) -> Result<()> {
    let count = src.image_count();
    for &i in indexes {
        if i == 0 || i > count {
            return Err(Error::NoSuchImage { index: i, count });
        }
    }
    let single = indexes.len() == 1;
    if dest.exists() {
        let file = WimFile::open(dest)?;
        let dwim = file.wim()?;
        let mut w = WimWriter::in_place(dest, &dwim, &opts.write)?;
        for &i in indexes {
            let e = exported_element(src, i, opts, single)?;
            copy_image(&mut w, src, i, e).map_err(|e| e.with_path(dest))?;
        }
        if opts.bootable {
            let n = w.image_count() as u32;
            w.set_boot_index(n);
        }
        w.finish()?;
        drop(file);
        return Ok(());
    }
    let mut w = WimWriter::create(dest, &opts.write)?;
    for &i in indexes {
        let e = exported_element(src, i, opts, single)?;
        copy_image(&mut w, src, i, e)?;
        if src.header.boot_index == i {
            w.set_boot_index(w.image_count() as u32);
        }
    }
    if opts.bootable {
        let n = w.image_count() as u32;
        w.set_boot_index(n);
    }
    w.finish()?;
    Ok(())
}

/// Rebuilds the WIM at `path` without the data nothing uses: every image is copied
/// into a temporary file beside it (resources as they are, solid resources whole),
/// which then replaces it. `opts` gives threads and integrity; `recompress` set uses
/// its compression instead of the WIM's.
pub fn optimize(path: &Path, opts: &WriteOptions, recompress: bool) -> Result<()> {
    let file = WimFile::open(path)?;
    let wim = file.wim()?;
    let mut o = opts.clone();
    if !recompress {
        o.compression = wim.header.compression;
        o.chunk_size = (wim.header.compression != crate::header::Compression::None)
            .then_some(wim.header.chunk_size);
        o.solid = !wim.blob_table.solid_resources.is_empty();
    }
    o.integrity = opts.integrity || wim.has_integrity_table();
    let mut w = WimWriter::create(path, &o)?;
    w.set_header_flag(wim.header.flags & flags::RP_FIX);
    let xml = file.context(wim.xml())?;
    let mut used_solid = std::collections::BTreeSet::new();
    let mut images = Vec::new();
    for i in 1..=wim.image_count() {
        let img = file.context(wim.image(i))?;
        for n in &img.nodes {
            for s in &n.streams {
                if let Some(b) = wim.blob_table.get(&s.hash) {
                    if let BlobLocation::Solid { resource, .. } = b.location {
                        used_solid.insert(resource);
                    }
                }
            }
        }
        images.push(img);
    }
    if !recompress {
        for r in used_solid {
            file.context(w.copy_solid_resource(&wim, r))?;
        }
    }
    for (k, img) in images.iter().enumerate() {
        let i = k as u32 + 1;
        file.context(copy_image_blobs(&mut w, &wim, img))?;
        let e = xml
            .image(i)
            .map(|x| x.element.clone())
            .unwrap_or_else(|| Element {
                name: "IMAGE".into(),
                ..Element::default()
            });
        w.add_image(img, e)?;
    }
    w.set_boot_index(wim.header.boot_index);
    drop(wim);
    w.finish()?;
    drop(file);
    Ok(())
}

/// File name of part `n` of a split set whose first part is `first` (`x.swm`,
/// `x2.swm`, `x3.swm`, ...).
pub fn part_path(first: &Path, n: u16) -> PathBuf {
    if n == 1 {
        return first.to_path_buf();
    }
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = first
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    first.with_file_name(format!("{stem}{n}{ext}"))
}

/// A unit of the split: one plain resource, or a solid resource with its blobs.
struct Unit {
    stored: u64,
    entries: Vec<(usize, Option<usize>)>,
    solid: Option<usize>,
    part: u16,
    resource: ResourceHeader,
}

/// Splits `src` (an unsplit WIM) into parts of at most `max_part_size` bytes (a part
/// holding one large resource may exceed it): `first` (`x.swm`), `x2.swm`, ... with one
/// GUID. Part 1 holds the metadata resources; every part has the XML data and a blob
/// table of what it holds. Returns the paths of the parts.
pub fn split(
    src: &Wim<'_>,
    first: &Path,
    max_part_size: u64,
    integrity: bool,
) -> Result<Vec<PathBuf>> {
    let t = &src.blob_table;
    let xml = src.reader().read_resource(&src.header.xml)?;
    // Plain resources and whole solid resources, in file order.
    let mut units: Vec<Unit> = Vec::new();
    for (i, b) in t.blobs.iter().enumerate() {
        if b.is_metadata {
            continue;
        }
        if let BlobLocation::Resource(r) = b.location {
            units.push(Unit {
                stored: r.stored_size,
                entries: vec![(i, None)],
                solid: None,
                part: 0,
                resource: r,
            });
        }
    }
    for (si, s) in t.solid_resources.iter().enumerate() {
        let entries = t
            .blobs
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.location, BlobLocation::Solid { resource, .. } if resource == si))
            .map(|(i, _)| (i, Some(si)))
            .collect();
        units.push(Unit {
            stored: s.resource.stored_size,
            entries,
            solid: Some(si),
            part: 0,
            resource: s.resource,
        });
    }
    units.sort_by_key(|u| u.resource.offset);
    // Assign parts: part 1 starts with the header, metadata and XML.
    let overhead = |n_entries: u64| HEADER_SIZE as u64 + xml.len() as u64 + 50 * n_entries;
    let meta: u64 = t
        .metadata_blobs()
        .map(|b| match b.location {
            BlobLocation::Resource(r) => r.stored_size,
            _ => 0,
        })
        .sum();
    let mut part = 1u16;
    let mut size = overhead(t.metadata.len() as u64) + meta;
    let mut in_part = 0usize;
    for u in &mut units {
        let add = u.stored + 50 * u.entries.len() as u64;
        if in_part > 0 && size + add > max_part_size {
            part += 1;
            size = overhead(0);
            in_part = 0;
        }
        size += add;
        in_part += 1;
        u.part = part;
    }
    let total = part;
    let mut paths = Vec::new();
    for p in 1..=total {
        let path = part_path(first, p);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::access("create", &e).with_path(&path))?;
        let mut out = Out::new(file, 0, &path)?;
        out.write(&[0u8; HEADER_SIZE])?;
        let mut table: Vec<u8> = Vec::new();
        let mut header = src.header.clone();
        if p == 1 {
            for b in t.metadata_blobs() {
                let BlobLocation::Resource(r) = b.location else {
                    continue;
                };
                let bytes = r.stored_bytes(src.file, "metadata resource")?;
                let mut nr = r;
                nr.offset = out.pos();
                out.write(bytes)?;
                table.extend_from_slice(
                    &crate::BlobEntry {
                        resource: nr,
                        part_number: 1,
                        ref_count: b.ref_count,
                        hash: b.hash,
                    }
                    .to_bytes(),
                );
            }
        }
        let mut solid_entries = Vec::new();
        let mut solid_blobs = Vec::new();
        let mut solid_base = 0u64;
        for u in units.iter().filter(|u| u.part == p) {
            let bytes = u.resource.stored_bytes(src.file, "resource")?;
            let mut nr = u.resource;
            nr.offset = out.pos();
            out.write(bytes)?;
            match u.solid {
                None => {
                    let b = &t.blobs[u.entries[0].0];
                    table.extend_from_slice(
                        &crate::BlobEntry {
                            resource: nr,
                            part_number: p,
                            ref_count: b.ref_count,
                            hash: b.hash,
                        }
                        .to_bytes(),
                    );
                }
                Some(si) => {
                    solid_entries.push(crate::BlobEntry {
                        resource: nr,
                        part_number: p,
                        ref_count: 1,
                        hash: [0; 20],
                    });
                    for &(bi, _) in &u.entries {
                        let b = &t.blobs[bi];
                        if let BlobLocation::Solid { offset, .. } = b.location {
                            solid_blobs.push(crate::BlobEntry {
                                resource: ResourceHeader {
                                    stored_size: b.size,
                                    flags: ResourceFlags::SOLID,
                                    offset: solid_base + offset,
                                    // Zero, as peers write it (see the writer).
                                    uncompressed_size: 0,
                                },
                                part_number: p,
                                ref_count: b.ref_count,
                                hash: b.hash,
                            });
                        }
                    }
                    solid_base += t.solid_resources[si].header.uncompressed_size;
                }
            }
        }
        for e in solid_entries.iter().chain(&solid_blobs) {
            table.extend_from_slice(&e.to_bytes());
        }
        let tr = write_stored(&mut out, &table)?;
        let xr = write_stored(&mut out, &xml)?;
        header.part_number = p;
        header.total_parts = total;
        if total > 1 {
            header.flags |= flags::SPANNED;
        }
        header.blob_table = ResourceHeader {
            flags: ResourceFlags::METADATA,
            ..tr
        };
        header.xml = ResourceHeader {
            flags: ResourceFlags::METADATA,
            ..xr
        };
        header.integrity = ResourceHeader::default();
        if integrity {
            out.flush()?;
            let it = super::writer::integrity_of(out.file(), &path, tr.end()?)?;
            header.integrity = write_stored(&mut out, &it.to_bytes())?;
        }
        fix_boot(&mut header, &table, p);
        out.write_at(0, &header.to_bytes())?;
        out.finish()?;
        paths.push(path);
    }
    Ok(paths)
}

/// Points the boot metadata of part 1 at the boot image's metadata entry.
fn fix_boot(header: &mut Header, table: &[u8], part: u16) {
    header.boot_metadata = ResourceHeader::default();
    if part != 1 || header.boot_index == 0 {
        return;
    }
    if let Ok(entries) = crate::blob_table::parse_entries(table) {
        if let Some(e) = entries
            .iter()
            .filter(|e| e.resource.is_metadata())
            .nth(header.boot_index as usize - 1)
        {
            header.boot_metadata = e.resource;
        }
    }
}

/// An IMAGE element for the XML of a new WIM built from scratch (convenience).
pub fn xml_for(images: &[Element], total_bytes: u64) -> Vec<u8> {
    xml_bytes(&wim_element(None, images, total_bytes))
}
