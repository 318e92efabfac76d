/**
 * `sigwatch verify IMAGE...`: the operator's signature check, run once from a
 * laptop or CI against live registries. Exit 1 if any image definitely fails,
 * else 2 if any could not be decided (registry down, incomplete evidence),
 * else 0. With `--policy FILE` the images are judged by the ImagePolicy
 * documents in the file, with the operator's evaluator.
 *
 * This file only defines the flags; the work is in verify-action.ts, loaded
 * when the command runs, so `sigwatch --help` and the other commands never
 * load the registry client, undici or the Sigstore libraries.
 */
import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';
import { repeatable, withGithubWorkflowOptions } from './flags.js';
import type { VerifyFlags } from './verify-action.js';

export function verifyCommand(context: CommandContext): Command {
  const command = new Command('verify')
    .description(
      'verify the signatures of images in their registries (exit 1: a definite failure, 2: undecided)',
    )
    .argument('<image...>', 'image references (tag or @sha256:digest)')
    .option('--key <file>', 'PEM public key that must have signed the image')
    .option('--certificate-identity <id>', 'keyless: exact certificate identity (SAN)')
    .option(
      '--certificate-identity-regexp <re2>',
      'keyless: identity pattern, RE2, unanchored like cosign (anchor it with ^…$)',
    )
    .option('--certificate-oidc-issuer <url>', 'keyless: exact OIDC issuer')
    .option(
      '--certificate-oidc-issuer-regexp <re2>',
      'keyless: OIDC issuer pattern, RE2, unanchored like cosign (anchor it with ^…$)',
    );
  return withGithubWorkflowOptions(command)
    .option('--trusted-root <file>', 'Sigstore trusted_root.json (default: the embedded public-good root)')
    .option('--insecure-ignore-tlog', 'keyless: accept signatures without a transparency-log entry')
    .option('--insecure-registry <host>', 'speak plain HTTP to this registry (repeatable)', repeatable, [])
    .option(
      '--registry-ca <file>',
      'PEM CA certificate for registries behind a private CA (repeatable)',
      repeatable,
      [],
    )
    .option('--registry-cacert <file>', "cosign's name for --registry-ca (repeatable)", repeatable, [])
    .option(
      '--allow-http-registry',
      "cosign's flag: speak plain HTTP to the registries of the given images (like --insecure-registry for each)",
    )
    .option(
      '--allow-insecure-registry',
      "accepted for cosign's command lines; Sigwatch never skips TLS verification: give the registry's CA with --registry-ca",
    )
    .addOption(
      new Option(
        '--signature-repository <repo>',
        'also look for signatures in this repository, e.g. registry.example.com/signatures',
      ).env('COSIGN_REPOSITORY'),
    )
    .option(
      '--docker-config <file>',
      'docker config.json with registry credentials (default: $DOCKER_CONFIG or ~/.docker/config.json)',
    )
    .option(
      '--policy <file>',
      'judge the images against the ImagePolicy documents in this YAML file instead of --key / --certificate-*',
    )
    .option(
      '--trusted-root-ref <name=file>',
      'with --policy: the trusted_root.json a keyless.trustedRootRef named NAME stands for (repeatable)',
      repeatable,
      [],
    )
    .option(
      '--secret-key <name/key=file>',
      'with --policy: the PEM public key a key.secretRef {name, key} stands for (repeatable)',
      repeatable,
      [],
    )
    .option(
      '--concurrency <n>',
      'images verified at once; at most 8 of them per registry (its request bound)',
      '8',
    )
    .option(
      '--max-evidence-bytes <size>',
      'bytes fetched per evidence source of a digest (each .sig, .att, .sbom tag and referrers); beyond it the newest that fit are judged',
      '16Mi',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (images: string[], flags: VerifyFlags) => {
      const { verifyImages } = await import('./verify-action.js');
      await verifyImages(images, flags, context);
    });
}
