//! Printable documents as PDF: a [`Printable`] (what `domain::printable` says a document says)
//! laid out on an A4 page in DejaVu Sans — embedded whole, so every Kazakh letter (ә ғ қ ң ө ұ ү
//! һ і) prints and extracts as text — with a Code 128 barcode of the registration number (the
//! State Corporation's scanners read it) and a QR code of the public verification page.
//! Both codes are drawn as vector rectangles: they stay sharp at any print resolution.

use domain::printable::Printable;
use printpdf::{Color, IndirectFontRef, Mm, PdfDocument, PdfLayerReference, Rect, Rgb};

use crate::error::ApiError;

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), unmodified; its licence is next to it.
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The widest line of text, in characters, before it wraps.
const WRAP: usize = 80;

fn pdf_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(std::io::Error::other(format!("PDF: {e}")))
}

/// Splits a text into lines of at most [`WRAP`] characters at spaces; a word longer than a line
/// is cut into pieces of a line each, so nothing runs off the page.
fn wrap(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let pieces = text.split_whitespace().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .chunks(WRAP)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in pieces {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// Where the next line goes: on the first page above its codes, then on as many continuation
/// pages as the text needs — a line is never dropped and never drawn over the codes.
struct Pages<'a> {
    pdf: &'a printpdf::PdfDocumentReference,
    font: &'a IndirectFontRef,
    title: &'a str,
    layer: PdfLayerReference,
    y: f32,
    bottom: f32,
    count: usize,
}

/// The lowest line on the first page: the barcode, the QR code, the hash and the footer are below.
const FIRST_PAGE_BOTTOM: f32 = 80.0;
/// The lowest line on a continuation page.
const PAGE_BOTTOM: f32 = 20.0;

impl Pages<'_> {
    /// Makes room for `height` mm, on a new page when this one is full.
    fn room(&mut self, height: f32) {
        if self.y - height >= self.bottom {
            return;
        }
        let (page, layer) = self.pdf.add_page(Mm(210.0), Mm(297.0), "continued");
        self.layer = self.pdf.get_page(page).get_layer(layer);
        black(&self.layer);
        self.count += 1;
        text(
            &self.layer,
            self.font,
            &format!("{} ({})", self.title, self.count),
            9.0,
            20.0,
            280.0,
        );
        self.y = 268.0;
        self.bottom = PAGE_BOTTOM;
    }

    /// Writes one line at the cursor and moves down by `advance` mm.
    fn line(&mut self, s: &str, size: f32, x: f32, advance: f32) {
        self.room(advance);
        text(&self.layer, self.font, s, size, x, self.y);
        self.y -= advance;
    }
}

fn black(layer: &PdfLayerReference) {
    layer.set_fill_color(Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)));
}

/// Draws the Code 128 barcode of `data` (character set B) with its bottom-left corner at (x, y).
fn barcode(layer: &PdfLayerReference, data: &str, x: f32, y: f32) -> Result<(), ApiError> {
    const MODULE: f32 = 0.33;
    const HEIGHT: f32 = 14.0;
    let code = barcoders::sym::code128::Code128::new(format!("Ɓ{data}")).map_err(pdf_error)?;
    for (i, bar) in code.encode().iter().enumerate() {
        if *bar == 1 {
            let left = x + i as f32 * MODULE;
            layer.add_rect(Rect::new(
                Mm(left),
                Mm(y),
                Mm(left + MODULE),
                Mm(y + HEIGHT),
            ));
        }
    }
    Ok(())
}

/// Draws the QR code of `data` with its bottom-left corner at (x, y), `size` mm wide.
fn qr(layer: &PdfLayerReference, data: &str, x: f32, y: f32, size: f32) -> Result<(), ApiError> {
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(pdf_error)?;
    let n = code.width();
    let module = size / n as f32;
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (col, row) = ((i % n) as f32, (i / n) as f32);
            let left = x + col * module;
            let top = y + size - row * module;
            layer.add_rect(Rect::new(
                Mm(left),
                Mm(top - module),
                Mm(left + module),
                Mm(top),
            ));
        }
    }
    Ok(())
}

fn text(layer: &PdfLayerReference, font: &IndirectFontRef, s: &str, size: f32, x: f32, y: f32) {
    layer.use_text(s, size, Mm(x), Mm(y), font);
}

/// The PDF of a printable document: every line of it, on as many pages as it takes; the codes
/// and the footer at the foot of the first page.
pub fn render(doc: &Printable) -> Result<Vec<u8>, ApiError> {
    layout(doc).map(|(bytes, _)| bytes)
}

/// The PDF and its number of pages.
fn layout(doc: &Printable) -> Result<(Vec<u8>, usize), ApiError> {
    let (pdf, page, layer) = PdfDocument::new(&doc.title, Mm(210.0), Mm(297.0), "document");
    let font = pdf
        .add_external_font(std::io::Cursor::new(FONT))
        .map_err(pdf_error)?;
    let first = pdf.get_page(page).get_layer(layer);
    black(&first);
    barcode(&first, &doc.barcode, 20.0, 48.0)?;
    text(&first, &font, &doc.barcode, 10.0, 20.0, 42.0);
    qr(&first, &doc.verify_url, 150.0, 36.0, 40.0)?;
    text(
        &first,
        &font,
        &format!("SHA-256: {}", doc.sha256),
        7.0,
        20.0,
        28.0,
    );
    for (i, line) in wrap(&doc.footer).iter().take(3).enumerate() {
        text(&first, &font, line, 8.0, 20.0, 22.0 - i as f32 * 4.0);
    }
    text(&first, &font, &doc.title, 15.0, 20.0, 272.0);
    let mut pages = Pages {
        pdf: &pdf,
        font: &font,
        title: &doc.title,
        layer: first,
        y: 258.0,
        bottom: FIRST_PAGE_BOTTOM,
        count: 1,
    };
    for (label, values) in &doc.lines {
        // A label is never left alone at the foot of a page.
        pages.room(5.0 + 5.2);
        pages.line(label, 8.5, 20.0, 5.0);
        for value in values {
            for line in wrap(value) {
                pages.line(&line, 11.0, 24.0, 5.2);
            }
        }
        pages.y -= 3.0;
    }
    let count = pages.count;
    Ok((pdf.save_to_bytes().map_err(pdf_error)?, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_wrap_at_spaces() {
        let long = "сөз ".repeat(40);
        let lines = wrap(&long);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= WRAP));
        assert_eq!(wrap(""), vec![String::new()]);
        // A word longer than a line is cut, never left to run off the page.
        let word = "ә".repeat(WRAP * 2 + 5);
        let lines = wrap(&word);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.concat(), word);
    }

    #[test]
    fn long_documents_continue_on_more_pages() {
        let mut doc = Printable {
            title: "Құжаттарды қабылдау туралы қолхат".into(),
            lines: vec![(
                "Documents".into(),
                (0..50)
                    .map(|i| format!("{i}. {}", "құжат ".repeat(33)))
                    .collect(),
            )],
            barcode: "KZ47-20250602-0000001".into(),
            verify_url: "https://qyzmet.test/verify/KZ47-20250602-0000001".into(),
            sha256: "0".repeat(64),
            footer: "footer".into(),
        };
        let (_, long) = layout(&doc).expect("renders");
        // 50 values of three lines each (about 200 characters, wrapped at 80) and a label: 151
        // lines; the first page holds 34 above its codes, a continuation page 47.
        assert_eq!(long, 4, "pages");
        doc.lines[0].1.truncate(2);
        let (_, short) = layout(&doc).expect("renders");
        assert_eq!(short, 1);
    }
}
