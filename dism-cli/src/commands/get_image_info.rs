//! `/Get-ImageInfo /ImageFile:<f> [/Index:<n> | /Name:<s>]` (alias `/Get-WimInfo /WimFile:`).

use wim_format::xml::{ImageInfo, WindowsInfo};

use super::{image_infos, select_image, Context};
use crate::args::{value, OptionSpec, Options};
use crate::error::DismError;
use crate::open::ImageFile;
use crate::time::DateTime;

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("WimFile"),
    value("Index"),
    value("Name"),
];

pub const HELP: &str = "Dism /Get-ImageInfo /ImageFile:<path_to_image.wim> [{/Index:<image_index> | /Name:<image_name>}]

  Displays information about the images in a WIM, ESD or SWM file. With /Index or
  /Name, shows the details of that image.

  /Format:Json    Prints the same information as JSON (an extension for scripts).

    Examples:
      Dism /Get-ImageInfo /ImageFile:install.wim
      Dism /Get-ImageInfo /ImageFile:install.esd /Index:1";

/// One `Field : value` line of the output.
struct Field(&'static str, String);

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let path = match opts.get("ImageFile") {
        Some(p) => p,
        None => opts
            .require("WimFile")
            .map_err(|_| DismError::missing_argument("ImageFile"))?,
    };
    let file = ImageFile::open(path, None)?;
    let wim = file.wim()?;
    let infos = image_infos(&file, &wim)?;
    let selected = select_image(opts, &infos, &file.path)?;
    let json = opts
        .get("Format")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if let Some(opt) = opts.get("Format") {
        if !["json", "table", "list"]
            .iter()
            .any(|f| opt.eq_ignore_ascii_case(f))
        {
            return Err(DismError::invalid_argument(opt, "Format"));
        }
    }
    let records: Vec<Vec<Field>> = match selected {
        Some(index) => vec![detail(
            &infos[index as usize - 1],
            index,
            wim.header.boot_index == index,
        )],
        None => infos
            .iter()
            .enumerate()
            .map(|(i, info)| summary(info, i as u32 + 1))
            .collect(),
    };
    ctx.log.info(&format!(
        "Listed {} image(s) of {}",
        records.len(),
        file.path.display()
    ));
    let out = &mut *ctx.out;
    if json {
        let _ = writeln!(
            out,
            "{}",
            to_json(&file.path.display().to_string(), &records)
        );
        return Ok(());
    }
    let _ = writeln!(out, "Details for image : {}\n", file.path.display());
    for record in &records {
        for Field(name, value) in record {
            let _ = writeln!(out, "{name} : {value}");
        }
        let _ = writeln!(out);
    }
    Ok(())
}

fn summary(info: &ImageInfo, index: u32) -> Vec<Field> {
    vec![
        Field("Index", index.to_string()),
        Field("Name", info.name.clone().unwrap_or_default()),
        Field("Description", info.description.clone().unwrap_or_default()),
        Field(
            "Size",
            format!("{} bytes", thousands(info.total_bytes.unwrap_or(0))),
        ),
    ]
}

const UNDEFINED: &str = "<undefined>";

fn detail(info: &ImageInfo, index: u32, bootable: bool) -> Vec<Field> {
    let win = info.windows.clone().unwrap_or_default();
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| UNDEFINED.to_string());
    let version = win.version.unwrap_or_default();
    let num = |v: Option<u64>| v.map_or_else(|| UNDEFINED.to_string(), |n| n.to_string());
    let mut fields = summary(info, index);
    fields.extend([
        Field(
            "WIM Bootable",
            if bootable { "Yes" } else { "No" }.to_string(),
        ),
        Field("Architecture", architecture(&win)),
        Field("Hal", text(&win.hal)),
        Field(
            "Version",
            match (version.major, version.minor, version.build) {
                (Some(a), Some(b), Some(c)) => format!("{a}.{b}.{c}"),
                _ => UNDEFINED.to_string(),
            },
        ),
        Field("ServicePack Build", num(version.sp_build)),
        Field("ServicePack Level", num(version.sp_level)),
        Field("Edition", text(&win.edition_id)),
        Field("Installation", text(&win.installation_type)),
        Field("ProductType", text(&win.product_type)),
        Field("ProductSuite", text(&win.product_suite)),
        Field("System Root", text(&win.system_root)),
        Field("Directories", info.dir_count.unwrap_or(0).to_string()),
        Field("Files", info.file_count.unwrap_or(0).to_string()),
        Field("Created", time(info.creation_time)),
        Field("Modified", time(info.last_modification_time)),
        Field("Languages", languages(&win)),
    ]);
    fields
}

fn architecture(win: &WindowsInfo) -> String {
    match win.arch {
        Some(0) => "x86",
        Some(5) => "arm",
        Some(6) => "ia64",
        Some(9) => "x64",
        Some(12) => "arm64",
        _ => UNDEFINED,
    }
    .to_string()
}

fn languages(win: &WindowsInfo) -> String {
    if win.languages.is_empty() {
        return UNDEFINED.to_string();
    }
    let mut text = String::new();
    for lang in &win.languages {
        let default = win.default_language.as_deref() == Some(lang.as_str());
        text.push_str(&format!(
            "\n        {lang}{}",
            if default { " (Default)" } else { "" }
        ));
    }
    text
}

fn time(filetime: Option<u64>) -> String {
    filetime.map_or_else(
        || UNDEFINED.to_string(),
        |t| DateTime::from_filetime(t).dism_format(),
    )
}

/// `13998570900` → `13,998,570,900`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn to_json(path: &str, records: &[Vec<Field>]) -> String {
    let images: Vec<String> = records
        .iter()
        .map(|r| {
            let fields: Vec<String> = r
                .iter()
                .map(|Field(name, value)| {
                    let value = value.trim_start_matches('\n').replace("\n        ", ", ");
                    let number = value.trim_end_matches(" bytes").replace(',', "");
                    if matches!(*name, "Index" | "Size" | "Directories" | "Files")
                        && number.parse::<u64>().is_ok()
                    {
                        format!("{}: {number}", json_string(name))
                    } else {
                        format!("{}: {}", json_string(name), json_string(&value))
                    }
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        })
        .collect();
    format!(
        "{{\"ImageFile\": {}, \"Images\": [{}]}}",
        json_string(path),
        images.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(13_998_570_900), "13,998,570,900");
    }
}
