/**
 * How big the passcode window should be for its content, at the zoom the browser uses for
 * extension pages. Window sizes are in screen pixels, the page in CSS pixels. When the screen
 * is too short for one column (200% zoom on a 1280x800 laptop, at the final try), the page
 * goes to two columns, so every line shows without scrolling.
 */

/** The widest the window grows for its content, in CSS pixels (more only at 200% and up). */
const BASE_WIDTH = 480;

/**
 * @param {object} m
 * @param {number} m.oneColumn   content height in one column (CSS px)
 * @param {number} m.twoColumns  content height in two columns (CSS px), or NaN if not measured
 * @param {number} m.frame       window height minus page height (screen px)
 * @param {number} m.zoom        page zoom factor
 * @param {number} m.width       the window's width now (screen px)
 * @param {{availWidth: number, availHeight: number}} m.screen
 * @returns {{width: number, height: number, columns: boolean}}
 */
export function planFit({ oneColumn, twoColumns, frame, zoom, width, screen }) {
  const maxHeight = screen.availHeight || 2000;
  const maxWidth = screen.availWidth || 2000;
  const outer = (content) => frame + Math.ceil(content * zoom) + 4;
  const newWidth = Math.min(maxWidth, Math.max(width, Math.round(BASE_WIDTH * Math.min(zoom, 2))));
  const columns = outer(oneColumn) > maxHeight && Number.isFinite(twoColumns) && twoColumns < oneColumn;
  return { width: newWidth, height: Math.min(maxHeight, outer(columns ? twoColumns : oneColumn)), columns };
}
