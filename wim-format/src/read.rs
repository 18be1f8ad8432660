//! Reading resources and blobs out of a WIM held in memory (a slice of the whole file).

use std::borrow::Cow;

use sha1::{Digest, Sha1};

use crate::blob_table::{parse_entries, Blob, BlobLocation, BlobTable, Sha1Hash};
use crate::bytes::to_usize;
use crate::chunks::{ChunkDecoder, ChunkTable};
use crate::error::{Error, Result, Unsupported};
use crate::header::{Compression, Header, Magic};
use crate::resource::ResourceHeader;
use crate::solid::{SolidResource, SOLID_RESOURCE_MAGIC};

/// Bytes handed to a visitor at a time from data stored uncompressed.
const STORED_PIECE: usize = 1 << 20;
/// Most bytes reserved up front when reading a resource into a vector; it grows
/// beyond as data actually decodes.
const MAX_RESERVE: u64 = 1 << 26;

/// How the uncompressed bytes of one resource are obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceData<'a> {
    /// Stored as is.
    Stored(&'a [u8]),
    /// Stored as chunks (an ordinary compressed resource or a solid one).
    Chunked(ChunkTable),
}

impl<'a> ResourceData<'a> {
    /// Locates the data of `res`, a resource of the WIM `file` with header `header`:
    /// a header's resource, a non-solid blob-table entry, or a solid resource entry.
    pub fn open(file: &'a [u8], header: &Header, res: &ResourceHeader) -> Result<Self> {
        if res.is_spanned() {
            return Err(Error::Unsupported(Unsupported::SpannedResource));
        }
        if header.allows_solid() && res.is_solid() && res.uncompressed_size == SOLID_RESOURCE_MAGIC
        {
            let solid = SolidResource::read(file, res)?;
            return Ok(Self::Chunked(solid.chunk_table(file)?));
        }
        if !res.is_compressed() {
            if res.stored_size != res.uncompressed_size {
                return Err(Error::UncompressedSizeMismatch {
                    stored_size: res.stored_size,
                    uncompressed_size: res.uncompressed_size,
                });
            }
            return Ok(Self::Stored(res.stored_bytes(file, "resource")?));
        }
        if header.compression == Compression::None {
            return Err(Error::CompressedResourceInUncompressedWim);
        }
        if header.magic == Magic::Pipable {
            return Ok(Self::Chunked(ChunkTable::for_pipable_resource(
                file,
                res,
                header.compression,
                header.chunk_size,
            )?));
        }
        Ok(Self::Chunked(ChunkTable::for_resource(
            file,
            res,
            header.compression,
            header.chunk_size,
        )?))
    }

    pub fn uncompressed_size(&self) -> u64 {
        match self {
            Self::Stored(s) => s.len() as u64,
            Self::Chunked(t) => t.uncompressed_size,
        }
    }
}

/// Which chunk a [`ChunkDecoder`]'s buffer holds: everything that determines the
/// decoded bytes (where the chunk is stored, its stored and uncompressed sizes, the
/// format and the chunk size), so that two tables a hostile blob table makes overlap
/// cannot be confused.
type ChunkKey = Option<(usize, u64, u64, u64, Compression, u32)>;

/// Hands `f` the uncompressed bytes `offset..offset + len` of `data`, in order, a chunk
/// (or a stored piece) at a time.
#[allow(clippy::too_many_arguments)]
fn visit_range(
    file: &[u8],
    part: usize,
    data: &ResourceData<'_>,
    decoder: &mut ChunkDecoder,
    holds: &mut ChunkKey,
    offset: u64,
    len: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    match data {
        ResourceData::Stored(s) => {
            let end = range_end(offset, len, s.len() as u64)?;
            // In bounds: end <= s.len().
            for piece in s[offset as usize..end as usize].chunks(STORED_PIECE) {
                f(piece)?;
            }
            Ok(())
        }
        ResourceData::Chunked(table) => {
            visit_chunks(file, part, table, decoder, holds, offset, len, f)
        }
    }
}

fn range_end(offset: u64, len: u64, resource_size: u64) -> Result<u64> {
    offset
        .checked_add(len)
        .filter(|&e| e <= resource_size)
        .ok_or(Error::BlobOutOfRange {
            offset,
            size: len,
            resource_size,
        })
}

/// [`visit_range`] for chunked data.
#[allow(clippy::too_many_arguments)]
fn visit_chunks(
    file: &[u8],
    part: usize,
    table: &ChunkTable,
    decoder: &mut ChunkDecoder,
    holds: &mut ChunkKey,
    offset: u64,
    len: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let end = range_end(offset, len, table.uncompressed_size)?;
    let cs = u64::from(table.chunk_size);
    let mut pos = offset;
    while pos < end {
        let i = pos / cs;
        let start = i * cs;
        let chunk_len = table.chunk_len(i);
        let (at, stored_size) = table.chunk_location(i).ok_or(Error::BadChunk {
            chunk: i,
            stored_size: 0,
            uncompressed_size: chunk_len,
        })?;
        let key = Some((
            part,
            at,
            stored_size,
            chunk_len,
            table.compression,
            table.chunk_size,
        ));
        let bytes: &[u8] = if stored_size == chunk_len {
            decoder.decode(file, table, i)?
        } else if *holds == key {
            decoder
                .buffer()
                .get(..chunk_len as usize)
                .ok_or(Error::BadChunk {
                    chunk: i,
                    stored_size,
                    uncompressed_size: chunk_len,
                })?
        } else {
            *holds = None;
            let d = decoder.decode(file, table, i)?;
            *holds = key;
            d
        };
        let stop = end.min(start + chunk_len);
        f(&bytes[(pos - start) as usize..(stop - start) as usize])?;
        pos = stop;
    }
    Ok(())
}

/// One file of a WIM: the only one, or one part of a split set.
#[derive(Debug, Clone)]
pub struct WimPart<'a> {
    pub file: &'a [u8],
    /// The header in force: for a pipable WIM, the copy at the end of the file.
    pub header: Header,
}

/// A WIM held in memory: its header and blob table, validated.
///
/// For a split set, `file` and `header` are those of part 1 and `blob_table` merges the
/// tables of every part; each [`Blob`] names the part that holds it.
#[derive(Debug, Clone)]
pub struct Wim<'a> {
    pub file: &'a [u8],
    pub header: Header,
    pub blob_table: BlobTable,
    /// Every file of the WIM, in part order (one for an ordinary WIM).
    pub parts: Vec<WimPart<'a>>,
}

/// The header in force of `file`: the one at its start, or, for a pipable WIM, the
/// copy at its end (wimlib writes a pipable WIM's header first with no blob table or
/// XML, then the final header after them at the end of the file).
pub fn effective_header(file: &[u8]) -> Result<Header> {
    let header = Header::parse(file)?;
    if header.magic != Magic::Pipable {
        return Ok(header);
    }
    // A pipable WIM read from a file: the final header is the last 208 bytes.
    let len = file.len();
    let tail = len
        .checked_sub(crate::header::HEADER_SIZE)
        .filter(|&at| at >= crate::header::HEADER_SIZE)
        .map(|at| &file[at..]);
    let end = tail.and_then(|t| Header::parse(t).ok()).filter(|h| {
        h.magic == Magic::Pipable
            && h.guid == header.guid
            && h.part_number == header.part_number
            && h.total_parts == header.total_parts
    });
    // Without its final header a pipable WIM can only be read as a stream, which this
    // crate does not do.
    end.ok_or(Error::Unsupported(Unsupported::Pipable))
}

/// The blob table of one part, interpreted (its blobs of other parts skipped).
fn part_blob_table(file: &[u8], header: &Header) -> Result<BlobTable> {
    let table_res = header.blob_table;
    let data = ResourceData::open(file, header, &table_res)?;
    let bytes: Cow<'_, [u8]> = match &data {
        ResourceData::Stored(s) => Cow::Borrowed(s),
        ResourceData::Chunked(_) => {
            let mut out = Vec::new();
            let mut dec = ChunkDecoder::new();
            visit_range(
                file,
                0,
                &data,
                &mut dec,
                &mut None,
                0,
                data.uncompressed_size(),
                &mut |b| {
                    out.extend_from_slice(b);
                    Ok(())
                },
            )?;
            Cow::Owned(out)
        }
    };
    let entries = parse_entries(&bytes)?;
    BlobTable::from_entries(&entries, header, file)
}

impl<'a> Wim<'a> {
    /// Parses the header and blob table of the WIM `file` (an ordinary or pipable WIM).
    /// One part of a split set of several is refused with
    /// [`Unsupported::SplitSet`]: open the set with [`Wim::parse_parts`] (or
    /// [`crate::split::SplitSet`]).
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        let header = effective_header(file)?;
        if header.is_split() {
            return Err(Error::Unsupported(Unsupported::SplitSet {
                part_number: header.part_number,
                total_parts: header.total_parts,
            }));
        }
        let blob_table = part_blob_table(file, &header)?;
        Ok(Self {
            file,
            parts: vec![WimPart {
                file,
                header: header.clone(),
            }],
            header,
            blob_table,
        })
    }

    /// Parses every part of a split set, given in any order (an unsplit WIM alone is
    /// accepted too). Checks that every part has the same GUID and total part count and
    /// that the part numbers are distinct and cover `1..=total`; merges the blob tables.
    pub fn parse_parts(files: &[&'a [u8]]) -> Result<Self> {
        let mut parts = Vec::with_capacity(files.len());
        for f in files {
            parts.push(WimPart {
                file: f,
                header: effective_header(f)?,
            });
        }
        let order = crate::split::check_parts(parts.iter().map(|p| &p.header))?;
        let parts: Vec<WimPart<'a>> = order.into_iter().map(|i| parts[i].clone()).collect();
        let mut blob_table = BlobTable::default();
        for p in &parts {
            blob_table.merge(part_blob_table(p.file, &p.header)?);
        }
        Ok(Self {
            file: parts[0].file,
            header: parts[0].header.clone(),
            blob_table,
            parts,
        })
    }

    /// The file of part `part_number` (1-based).
    pub fn part_file(&self, part_number: u16) -> Result<&'a [u8]> {
        usize::from(part_number)
            .checked_sub(1)
            .and_then(|i| self.parts.get(i))
            .map(|p| p.file)
            .ok_or(Error::Unsupported(Unsupported::BlobInOtherPart {
                part_number,
            }))
    }

    /// The header of part `part_number` (1-based).
    pub fn part_header(&self, part_number: u16) -> Result<&Header> {
        usize::from(part_number)
            .checked_sub(1)
            .and_then(|i| self.parts.get(i))
            .map(|p| &p.header)
            .ok_or(Error::Unsupported(Unsupported::BlobInOtherPart {
                part_number,
            }))
    }

    /// Whether this WIM is a split set of several parts.
    pub fn is_split(&self) -> bool {
        self.parts.len() > 1
    }

    /// A reader of this WIM's blobs and resources.
    pub fn reader(&self) -> BlobReader<'_, 'a> {
        BlobReader::new(self)
    }
}

/// Reads blobs and resources of one [`Wim`], keeping its decoder, the chunk table of
/// the solid resource it last read from, and the chunk it last decompressed, so that
/// consecutive small blobs of one solid chunk cost one decompression.
pub struct BlobReader<'w, 'a> {
    wim: &'w Wim<'a>,
    decoder: ChunkDecoder,
    solid: Option<(usize, ChunkTable)>,
    holds: ChunkKey,
}

impl<'w, 'a> BlobReader<'w, 'a> {
    pub fn new(wim: &'w Wim<'a>) -> Self {
        Self {
            wim,
            decoder: ChunkDecoder::new(),
            solid: None,
            holds: None,
        }
    }

    /// Hands `f` the uncompressed bytes of the resource `res` (one of the header's, or a
    /// non-solid blob-table entry), a chunk at a time.
    pub fn visit_resource(
        &mut self,
        res: &ResourceHeader,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let data = ResourceData::open(self.wim.file, &self.wim.header, res)?;
        let size = data.uncompressed_size();
        visit_range(
            self.wim.file,
            0,
            &data,
            &mut self.decoder,
            &mut self.holds,
            0,
            size,
            &mut f,
        )
    }

    /// The uncompressed bytes of the resource `res` (e.g. the XML data).
    pub fn read_resource(&mut self, res: &ResourceHeader) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(to_usize(res.uncompressed_size.min(MAX_RESERVE))?);
        self.visit_resource(res, |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands `f` the uncompressed bytes of `blob`, a chunk at a time, without checking
    /// its hash.
    pub fn visit_blob(&mut self, blob: &Blob, f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.visit_blob_range(blob, 0, blob.size, f)
    }

    /// Hands `f` the uncompressed bytes `offset..offset + len` of `blob`, in order,
    /// decompressing only the chunks that hold them.
    pub fn visit_blob_range(
        &mut self,
        blob: &Blob,
        offset: u64,
        len: u64,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let file = self.wim.part_file(blob.part_number)?;
        let header = self.wim.part_header(blob.part_number)?;
        let part = usize::from(blob.part_number);
        range_end(offset, len, blob.size)?;
        match blob.location {
            BlobLocation::Resource(res) => {
                let data = ResourceData::open(file, header, &res)?;
                if data.uncompressed_size() != blob.size {
                    return Err(Error::BlobOutOfRange {
                        offset: 0,
                        size: blob.size,
                        resource_size: data.uncompressed_size(),
                    });
                }
                let (dec, holds) = (&mut self.decoder, &mut self.holds);
                visit_range(file, part, &data, dec, holds, offset, len, &mut f)
            }
            BlobLocation::Solid {
                resource,
                offset: start,
            } => {
                let out_of_range = Error::SolidBlobOutOfRange {
                    offset: start,
                    size: blob.size,
                };
                let solid = self.wim.blob_table.solid_resources.get(resource);
                let solid = solid.ok_or(out_of_range.clone())?;
                if !matches!(&self.solid, Some((r, _)) if *r == resource) {
                    self.solid = None;
                    self.solid = Some((resource, solid.chunk_table(file)?));
                }
                let Some((_, table)) = &self.solid else {
                    return Err(out_of_range);
                };
                let at = start.checked_add(offset).ok_or(out_of_range)?;
                let (dec, holds) = (&mut self.decoder, &mut self.holds);
                visit_chunks(file, part, table, dec, holds, at, len, &mut f)
            }
        }
    }

    /// The SHA-1 of `blob`'s data, which is read in full.
    pub fn hash_blob(&mut self, blob: &Blob) -> Result<Sha1Hash> {
        let mut h = Sha1::new();
        self.visit_blob(blob, |b| {
            h.update(b);
            Ok(())
        })?;
        Ok(h.finalize().into())
    }

    /// Reads `blob` in full and checks its SHA-1 against the blob table's.
    pub fn verify_blob(&mut self, blob: &Blob) -> Result<()> {
        let actual = self.hash_blob(blob)?;
        check_hash(blob, actual)
    }

    /// The data of `blob`, its SHA-1 checked.
    pub fn read_blob(&mut self, blob: &Blob) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(to_usize(blob.size.min(MAX_RESERVE))?);
        let mut h = Sha1::new();
        self.visit_blob(blob, |b| {
            h.update(b);
            out.extend_from_slice(b);
            Ok(())
        })?;
        check_hash(blob, h.finalize().into())?;
        Ok(out)
    }
}

/// `Ok` when `actual` is the blob's SHA-1, else [`Error::HashMismatch`].
pub(crate) fn check_hash(blob: &Blob, actual: Sha1Hash) -> Result<()> {
    if actual == blob.hash {
        Ok(())
    } else {
        Err(Error::HashMismatch {
            expected: blob.hash,
            actual,
        })
    }
}
