import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planFit } from '../src/ui/fit.js';

const laptop = { availWidth: 1280, availHeight: 800 };

test('fit_oneColumn_whenItFits: the window is as tall as its content plus the frame', () => {
  assert.deepEqual(planFit({ oneColumn: 300, twoColumns: 200, frame: 60, zoom: 1, width: 480, screen: laptop }), { width: 480, height: 364, columns: false });
});

test('fit_zoom200_widerAndTaller: content in CSS px, the window in screen px', () => {
  assert.deepEqual(planFit({ oneColumn: 300, twoColumns: 200, frame: 60, zoom: 2, width: 480, screen: laptop }), { width: 960, height: 664, columns: false });
});

test('fit_tooShortForOneColumn_twoColumns: every line shows (200% zoom, final try)', () => {
  assert.deepEqual(planFit({ oneColumn: 480, twoColumns: 260, frame: 60, zoom: 2, width: 1280, screen: laptop }), { width: 1280, height: 584, columns: true });
});

test('fit_twoColumnsNoBetter_staysOneColumn_asTallAsTheScreen', () => {
  assert.deepEqual(planFit({ oneColumn: 480, twoColumns: NaN, frame: 60, zoom: 2, width: 1280, screen: laptop }), { width: 1280, height: 800, columns: false });
  assert.deepEqual(planFit({ oneColumn: 480, twoColumns: 480, frame: 60, zoom: 2, width: 1280, screen: laptop }).columns, false);
});

test('fit_neverWiderThanTheScreen', () => {
  assert.equal(planFit({ oneColumn: 100, twoColumns: 80, frame: 0, zoom: 3, width: 400, screen: { availWidth: 800, availHeight: 600 } }).width, 800);
});
