import { javascript, typescript, JsonFile, TextFile } from 'projen';

/** One jest project: ts-jest with the test tsconfig, node environment, our default timeout. */
function jestProject(name: string, testMatch: string[], extra: Record<string, unknown>): Record<string, unknown> {
  return {
    displayName: name,
    testMatch,
    testEnvironment: 'node',
    transform: { '^.+\\.[t]sx?$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }] },
    ...extra,
  };
}

// The compiled JavaScript goes to build/ because dist/ is where synthesized manifests land
// (cdk8s' own default), and the design card reserves lib/ for sources.
const project = new typescript.TypeScriptProject({
  name: 'mcp-operator',
  description: 'Run MCP (Model Context Protocol) servers on Kubernetes: cdk8s constructs, a synth CLI and a controller.',
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  projenrcTs: true,
  srcdir: 'lib',
  libdir: 'build',
  testdir: 'test',
  sampleCode: false,
  packageManager: javascript.NodePackageManager.NPM,
  minNodeVersion: '22.19.0',
  typescriptVersion: '~5.9.3',
  github: false,
  release: false,
  package: false,
  buildWorkflow: false,
  depsUpgrade: false, // renovate.json does this, as the seed did
  pullRequestTemplate: false,
  entrypoint: 'build/lib/index.js',
  entrypointTypes: 'build/lib/index.d.ts',
  bin: { 'mcp-operator': 'bin/mcp-operator.js' },
  deps: [
    'cdk8s@^2.70.0',
    'cdk8s-plus-28@2.5.6',
    'constructs@^10.4.0',
    'commander@^15.1.0',
    'js-yaml@^4.1.0',
    '@kubernetes/client-node@^2.0.1',
    'prom-client@^15.1.3',
    'pino@^10.4.0',
    '@modelcontextprotocol/sdk@^1.32.2',
  ],
  devDeps: [
    '@types/js-yaml@^4',
    '@types/node@^24',
    'fast-check@^4.11.0',
    'cdk8s-cli@^2.207.0',
    'ts-node@^10',
    '@modelcontextprotocol/server-everything@2026.8.31',
    '@modelcontextprotocol/server-filesystem@2026.8.31',
    'supergateway@4.0.0',
    'esbuild@^0.28',
    'postject@^1.0.0-alpha.6',
    'dockerfile-utils@^0.16.3',
  ],
  tsconfig: {
    include: ['lib/**/*.ts'],
    compilerOptions: {
      rootDir: '.',
      outDir: 'build',
      target: 'ES2022',
      lib: ['ES2023'],
      // nodenext keeps our output CommonJS while letting it require() the ESM-only
      // @kubernetes/client-node; Node >= 22.12 supports require(esm) natively.
      module: 'nodenext' as any,
      moduleResolution: javascript.TypeScriptModuleResolution.NODE_NEXT,
      strict: true,
      noUncheckedIndexedAccess: true,
      isolatedModules: true,
      esModuleInterop: true,
      skipLibCheck: true,
      resolveJsonModule: true,
      declaration: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  },
  tsconfigDev: {
    include: ['lib/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', '.projenrc.ts'],
    compilerOptions: {
      module: 'nodenext' as any,
      moduleResolution: javascript.TypeScriptModuleResolution.NODE_NEXT,
      noUncheckedIndexedAccess: true,
      isolatedModules: true,
      skipLibCheck: true,
      esModuleInterop: true,
    },
  },
  jestOptions: {
    jestVersion: '^30',
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      // Four projects, so a developer runs the fast ones alone (`npx jest --selectProjects unit`):
      //  unit        no Kubernetes at all (seconds);
      //  integration the real kube-apiserver + etcd (hack/control-plane.sh), no node;
      //  hostile     attacks on every input path, some checked against the real API server;
      //  e2e         a real node (hack/cluster.sh): pods, kubelet, scheduler, GC, kube-proxy.
      // `npm test` runs e2e in a second jest run, after the others, so pods never compete for the
      // two cores with the API-server tests.
      projects: [
        jestProject('unit', ['<rootDir>/test/**/*.test.ts'], {
          testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/(integration|controller|hostile|e2e)/'],
        }),
        jestProject('integration', ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/controller/**/*.test.ts'], {
          globalSetup: '<rootDir>/test/support/global-setup.ts',
          globalTeardown: '<rootDir>/test/support/global-teardown.ts',
        }),
        jestProject('hostile', ['<rootDir>/test/hostile/**/*.test.ts'], {
          globalSetup: '<rootDir>/test/support/global-setup.ts',
          globalTeardown: '<rootDir>/test/support/global-teardown.ts',
        }),
        jestProject('e2e', ['<rootDir>/test/e2e/**/*.test.ts'], {
          globalSetup: '<rootDir>/test/e2e/support/global-setup.ts',
          globalTeardown: '<rootDir>/test/e2e/support/global-teardown.ts',
        }),
      ],
      // A global option: jest ignores testTimeout inside `projects`.
      testTimeout: 120_000,
      maxWorkers: 2,
      collectCoverage: false,
    },
  },
  gitignore: ['/dist/', '/build/', '/.cache/', '*.tsbuildinfo'],
});

// jest loads ESM-only packages (the Kubernetes client) through Node's require(esm), which jest only
// allows with VM modules turned on.
// CI checks lint without --fix (projen's own eslint task rewrites files).
const lint = project.addTask('lint', {
  description: 'eslint, failing on any finding',
  env: { ESLINT_USE_FLAT_CONFIG: 'false', NODE_NO_WARNINGS: '1' },
  exec: 'eslint --ext .ts --max-warnings 0 --no-error-on-unmatched-pattern lib test .projenrc.ts',
});

project.testTask.reset();
project.testTask.spawn(project.compileTask);
project.testTask.spawn(lint);
project.testTask.env('NODE_OPTIONS', '--experimental-vm-modules --no-warnings=ExperimentalWarning');
project.testTask.exec('jest --passWithNoTests=false --updateSnapshot=none --ci --selectProjects unit integration hostile', { receiveArgs: true });
project.testTask.exec('jest --passWithNoTests=false --updateSnapshot=none --ci --selectProjects e2e', { receiveArgs: true });

project.package.addField('version', '0.1.0');
project.package.addField('engines', { node: '>= 22.19.0' });
project.package.addField('exports', {
  '.': { types: './build/lib/index.d.ts', default: './build/lib/index.js' },
  './controller': { types: './build/lib/controller/index.d.ts', default: './build/lib/controller/index.js' },
  './package.json': './package.json',
});
project.package.addField('files', ['build/lib', 'build/bin', 'bin', 'imports', 'README.md']);

project.addTask('import-crd', {
  description: 'Regenerate imports/ from the CRD that lib/spec produces',
  steps: [
    { spawn: 'compile' },
    { exec: 'node bin/mcp-operator.js crd > build/mcpserver-crd.yaml' },
    // Run from build/: `cdk8s import` records its inputs in the cdk8s.yaml of the working directory.
    { exec: 'cd build && cdk8s import --no-check-upgrade --language typescript --output ../imports mcpserver-crd.yaml' },
  ],
});

project.addTask('synth-examples', {
  description: 'Synthesize the seed examples into dist/',
  steps: [
    { exec: 'node bin/mcp-operator.js synth -f examples/servers -o dist/servers' },
    { exec: 'node bin/mcp-operator.js synth -f examples/quickstart -o dist/quickstart' },
  ],
});

project.addTask('helm-chart', {
  description: 'Regenerate charts/mcp-operator from the install constructs in lib/install',
  steps: [
    { spawn: 'compile' },
    { exec: "node -e \"require('./build/lib/install/helm-chart').writeHelmChart('charts/mcp-operator')\"" },
  ],
});

project.addTask('build-bridge', {
  description: 'Build the self-contained stdio bridge (Node single executable) into build/bridge/mcp-bridge',
  steps: [{ spawn: 'compile' }, { exec: 'bash hack/build-bridge.sh' }],
});

// The SDK maps `@modelcontextprotocol/sdk/*.js` through package exports that the import resolver
// of eslint-plugin-import does not follow; TypeScript resolves them, which is what matters.
project.eslint?.addRules({ 'import/no-unresolved': ['error', { ignore: ['^@modelcontextprotocol/sdk/'] }] });

// One direction of dependencies (ARCHITECTURE.md): spec → rendering → runtimes → controller → CLI.
// A zone forbids its `target` to import from `from`, i.e. from any layer above it.
const LAYERS = {
  spec: ['./lib/spec', './lib/policy', './lib/util', './lib/version.ts'],
  rendering: ['./lib/construct', './lib/synth.ts', './lib/install'],
  // lib/index.ts, the library entry, re-exports rendering and the registry resolver.
  runtimes: ['./lib/registry', './lib/net', './lib/bridge', './lib/metrics.ts', './lib/index.ts'],
  controller: ['./lib/controller'],
  cli: ['./lib/cli'],
};
const order = Object.values(LAYERS);
const zones = order.flatMap((targets, i) => order.slice(i + 1).flat().length === 0 ? [] : targets.map((target) => ({
  target,
  from: order.slice(i + 1).flat(),
  message: 'imports go down the layers only (spec → rendering → runtimes → controller → CLI; see ARCHITECTURE.md)',
})));
project.eslint?.addRules({
  'import/no-cycle': ['error', { ignore: ['^@'] }],
  'import/no-restricted-paths': ['error', { zones }],
  // Commander (argv, exit codes) belongs to the CLI layer only.
  'no-restricted-imports': ['error', { paths: [{ name: 'commander', message: 'command-line code lives in lib/cli' }] }],
});
project.eslint?.addOverride({ files: ['lib/cli/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', '.projenrc.ts'], rules: { 'no-restricted-imports': 'off' } });

new JsonFile(project, 'renovate.json', {
  obj: {
    $schema: 'https://docs.renovatebot.com/renovate-schema.json',
    extends: ['config:recommended'],
    schedule: ['before 6am on monday'],
    timezone: 'UTC',
    vulnerabilityAlerts: { enabled: true, labels: ['security'], schedule: ['at any time'] },
    osvVulnerabilityAlerts: true,
    packageRules: [
      { groupName: 'npm runtime dependencies', matchManagers: ['npm'], matchDepTypes: ['dependencies'] },
      { groupName: 'npm dev dependencies', matchManagers: ['npm'], matchDepTypes: ['devDependencies'] },
      { groupName: 'go control-plane modules', matchManagers: ['gomod'] },
      { groupName: 'github actions', matchManagers: ['github-actions'] },
    ],
  },
});

new TextFile(project, '.nvmrc', { lines: ['24'] });

project.synth();
