// The demo's external "analytics" script: runs only once analytics is allowed.
;(window.demoRan = window.demoRan || []).push('analytics:external')
localStorage.setItem('_demo_an_visits', String(1 + Number(localStorage.getItem('_demo_an_visits') || 0)))
