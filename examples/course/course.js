// The example course page's side of the lab messages (README "Write a lab").
//   ?site=URL   where the playground is served (default: this folder's ../../dist/)
//   ?lab=PATH   the lab, relative to the site (default labs/cpu-slicing.yaml)
//   ?allow=ORIGIN  the origin the lab is told to trust (default: this page's own)
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var site = new URL(params.get('site') || '../../dist/', location.href);
  var lab = params.get('lab') || 'labs/cpu-slicing.yaml';
  var allow = params.get('allow') || location.origin;
  var frame = document.getElementById('lab');
  var src = new URL('index.html', site);
  src.searchParams.set('lab', lab);
  src.searchParams.set('parentOrigin', allow);
  frame.src = src.href;
  var labOrigin = src.origin;
  var received = [];
  window.courseMessages = received;

  function log(text) {
    var li = document.createElement('li');
    li.textContent = text;
    document.getElementById('log').appendChild(li);
  }

  window.addEventListener('message', function (e) {
    // Only the lab's frame, from the lab's origin.
    if (e.origin !== labOrigin || e.source !== frame.contentWindow) return;
    var d = e.data;
    if (!d || d.source !== 'hv-lab') return;
    received.push(d);
    var score = null;
    if (d.type === 'lab-loaded') {
      log('loaded "' + d.title + '" (' + d.steps.length + ' steps, ' + d.progress.passed + ' passed)');
      score = d.progress.score;
    } else if (d.type === 'step-checked') {
      log('step ' + d.step + ': ' + (d.passed ? 'passed' : 'not yet'));
      score = d.score;
    } else if (d.type === 'lab-completed') {
      log('lab completed, score ' + d.score + ' %');
      document.getElementById('completed').hidden = false;
      score = d.score;
    } else if (d.type === 'lab-error') {
      log('error: ' + d.message);
    }
    if (score !== null) {
      document.getElementById('score').value = score;
      document.getElementById('score-text').textContent = score + ' %';
    }
  });

  function send(message) {
    frame.contentWindow.postMessage(Object.assign({ source: 'hv-lab' }, message), labOrigin);
  }
  window.sendToLab = send;
  document.getElementById('reset').addEventListener('click', function () {
    send({ type: 'reset' });
  });
  document.getElementById('first').addEventListener('click', function () {
    send({ type: 'goto-step', step: 0 });
  });
})();
