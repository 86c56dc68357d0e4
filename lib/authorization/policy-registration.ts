import { Injectable, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { POLICIES_METADATA_KEY } from '../oidc-resource.constants.js';
import { isPolicyClass, type OidcPolicy, type Policy } from './policies.js';
import { PolicyNotRegisteredError } from './route-access.js';

/** Where `@Authorize()` metadata may sit: a class and its methods, inherited ones included. */
function decoratedTargets(type: Type<unknown>): Array<[target: object, where: string]> {
  const targets: Array<[object, string]> = [[type, type.name]];
  const seen = new Set<string>();
  for (
    let proto: object | null = type.prototype as object;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof value === 'function') targets.push([value, `${type.name}.${name}`]);
    }
  }
  return targets;
}

/**
 * Checks at start that every policy class named by an `@Authorize()` on a controller or a
 * provider (a GraphQL resolver, say) is registered, so a forgotten provider stops the
 * application instead of failing its first request.
 */
@Injectable()
export class PolicyRegistrationCheck implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly moduleRef: ModuleRef,
  ) {}

  onApplicationBootstrap(): void {
    const checked = new Set<Type<OidcPolicy>>();
    const wrappers = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    for (const wrapper of wrappers) {
      const type = wrapper.metatype as Type<unknown> | null | undefined;
      if (typeof type !== 'function' || !type.prototype) continue;
      for (const [target, where] of decoratedTargets(type)) {
        const policies = Reflect.getMetadata(POLICIES_METADATA_KEY, target) as
          readonly Policy[] | undefined;
        for (const policy of policies ?? []) {
          if (!isPolicyClass(policy) || checked.has(policy)) continue;
          checked.add(policy);
          this.check(policy, where);
        }
      }
    }
  }

  private check(policy: Type<OidcPolicy>, where: string): void {
    try {
      this.moduleRef.get(policy, { strict: false });
    } catch (error) {
      throw new PolicyNotRegisteredError(`${policy.name} (used by @Authorize on ${where})`, error);
    }
  }
}
