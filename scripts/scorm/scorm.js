// SCORM 1.2 wrapper of a hypervisor playground lab: frames the lab page and
// relays its messages (src/protocol/lab-embed.ts) to the LMS's SCORM API:
// score (% of steps passed), lesson status, and the passed steps' ids in
// cmi.suspend_data (SCORM 1.2 keeps at most 4,096 characters there).
(function () {
  'use strict';
  var SUSPEND_MAX = 4096;
  var config = JSON.parse(document.getElementById('hv-scorm').textContent);
  var frame = document.getElementById('lab');
  var statusLine = document.getElementById('status');

  function findApi(win) {
    for (var i = 0; win && i < 12; i++) {
      try {
        if (win.API) return win.API;
      } catch (e) {
        return null; // another origin: no API reachable there
      }
      if (win.parent === win) break;
      win = win.parent;
    }
    return null;
  }
  var api = findApi(window) || (window.opener ? findApi(window.opener) : null);

  var src = new URL(config.labPage, location.href);
  src.searchParams.set('lab', config.lab);
  src.searchParams.set('parentOrigin', location.origin);
  var labOrigin = src.origin;
  frame.src = src.href;

  var passed = {};
  var total = 0;
  var finished = false;
  if (api) {
    api.LMSInitialize('');
    var status = api.LMSGetValue('cmi.core.lesson_status');
    if (!status || status === 'not attempted') api.LMSSetValue('cmi.core.lesson_status', 'incomplete');
    var suspend = api.LMSGetValue('cmi.suspend_data') || '';
    suspend.split(',').forEach(function (id) {
      if (id) passed[id] = true;
    });
  }
  show();

  function ids() {
    return Object.keys(passed);
  }

  function show() {
    var n = ids().length;
    statusLine.textContent = (api ? 'Reporting to your course' : 'No course (SCORM API) found: progress is not reported') + (total ? ' · ' + n + ' of ' + total + ' steps passed' : '');
  }

  function save(complete) {
    show();
    if (!api || !total) return;
    var score = Math.round((100 * ids().length) / total);
    api.LMSSetValue('cmi.core.score.min', '0');
    api.LMSSetValue('cmi.core.score.max', '100');
    api.LMSSetValue('cmi.core.score.raw', String(score));
    var data = ids().join(',');
    api.LMSSetValue('cmi.suspend_data', data.length > SUSPEND_MAX ? data.slice(0, data.lastIndexOf(',', SUSPEND_MAX)) : data);
    if (complete) api.LMSSetValue('cmi.core.lesson_status', 'passed');
    api.LMSCommit('');
  }

  window.addEventListener('message', function (e) {
    if (e.origin !== labOrigin || e.source !== frame.contentWindow) return;
    var d = e.data;
    if (!d || d.source !== 'hv-lab') return;
    if (d.type === 'lab-loaded') {
      total = d.steps.length;
      var known = {};
      d.steps.forEach(function (s) {
        known[s.id] = true;
      });
      ids().forEach(function (id) {
        if (!known[id]) delete passed[id]; // the lab changed since: its old steps do not count
      });
      d.progress.passedSteps.forEach(function (id) {
        passed[id] = true;
      });
      // Continue where the student stopped (on this device or another).
      for (var i = 0; i < d.steps.length; i++) {
        if (!passed[d.steps[i].id]) {
          frame.contentWindow.postMessage({ source: 'hv-lab', type: 'goto-step', step: d.steps[i].id }, labOrigin);
          break;
        }
      }
      save(ids().length === total);
    } else if (d.type === 'step-checked' && d.passed) {
      passed[d.step] = true;
      save(false);
    } else if (d.type === 'lab-completed') {
      save(true);
    }
  });

  window.addEventListener('pagehide', function () {
    if (api && !finished) {
      finished = true;
      api.LMSFinish('');
    }
  });
})();
